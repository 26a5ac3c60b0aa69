#!/usr/bin/env node
'use strict';
// A tour of the client: ping and info, a pipelined burst, a channel with
// messages read back page by page, a blob streamed in and out, a kv value.
//
//   node examples/demo.js [--endpoint tcp://127.0.0.1:7401]
//                         [--server-key KEY --client-key FILE]   (CAIRN CURVE)
const crypto = require('crypto');
const {Connection} = require('..');

function option(name, fallback) {
    const at = process.argv.indexOf(name);
    return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

async function main() {
    const conn = new Connection(option('--endpoint', 'tcp://127.0.0.1:7401'), {
        serverKey: option('--server-key', null),
        clientKey: option('--client-key', null),
    });
    try {
        const pong = await conn.ping('hello');
        const info = await conn.info();
        console.log(`cairnd ${info.version} (wire API ${info.api_version}), pid ${info.pid}, ` +
                    `ping payload ${pong.payload}`);

        // 500 requests in flight at once, answers matched by id.
        const started = Date.now();
        await conn.pipeline(Array.from({length: 500}, (_, i) =>
            ['config_set', {key: `demo.key${i}`, value: Buffer.from(String(i))}]), {window: 500});
        console.log(`500 config sets pipelined in ${Date.now() - started} ms`);

        // A channel whose messages need no signature, read back newest first.
        const channel = `#demo-${crypto.randomBytes(4).toString('hex')}`;
        await conn.channelCreate(channel, {unsignedMessages: true});
        for (let i = 0; i < 25; i++) {
            await conn.messageStore(channel, `message ${i}`,
                                    {senderId: 'demo', signature: Buffer.alloc(64, 1)});
        }
        let count = 0;
        for await (const message of conn.iterMessages(channel, {pageSize: 10})) {
            if (count++ === 0) console.log(`newest in ${channel}: ${message.content}`);
        }
        console.log(`${count} messages read in pages of 10`);

        // A 10 MiB blob: streamed in 4 MiB chunks, read back in ranges.
        const blob = crypto.randomBytes(10 * 1024 * 1024);
        const stored = await conn.contentPut(blob);
        const back = await conn.contentGet(stored.hash);
        console.log(`blob ${stored.hash.toString('hex')} ${stored.size} bytes, ` +
                    `read back ${back.equals(blob) ? 'equal' : 'DIFFERENT'}`);

        await conn.kvNamespaceCreate(`demo-${crypto.randomBytes(4).toString('hex')}`)
            .then(async (ns) => {
                await conn.kvStore(ns.namespace, 'greeting', 'hello from node');
                console.log(`kv: ${await conn.kvRetrieve(ns.namespace, 'greeting')}`);
            });
    } finally {
        conn.close();
    }
}

main().catch((err) => {
    console.error(err.message);
    process.exit(1);
});
