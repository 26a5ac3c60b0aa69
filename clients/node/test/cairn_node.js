'use strict';
// A real cairnd for the Node client's tests: a free loopback port, a
// temporary data dir, stopped by its PID (SIGTERM, expected exit 0).
// CAIRND names the binary (the ctest sets it; default build/cairnd).

const {spawn, execFileSync} = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const {Connection, CairnTimeout, keys} = require('..');

const CAIRND = process.env.CAIRND || path.join(__dirname, '..', '..', '..', 'build', 'cairnd');
const START_MS = 30000;
const PORT_TRIES = 5;

function freePort() {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.once('error', reject);
        probe.listen(0, '127.0.0.1', () => {
            const {port} = probe.address();
            probe.close(() => resolve(port));
        });
    });
}

function runCairnd(...args) {
    return execFileSync(CAIRND, args, {encoding: 'utf8', timeout: 60000});
}

function wireApiVersion() {
    const m = /\(wire API (\d+)\)/.exec(runCairnd('--version'));
    if (!m) throw new Error('cairnd --version names no wire API');
    return Number(m[1]);
}

class Node {
    // start(args, {curve}): with curve, client_auth=curve and
    // this.clientKey (on the allow-list) and this.serverKey are set.
    static async start(args = [], {curve = false} = {}) {
        const node = new Node();
        node.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-'));
        node.data = path.join(node.dir, 'data');
        node.log = path.join(node.dir, 'cairnd.log');
        args = [...args];
        if (curve) {
            node.serverKey = runCairnd('server-key', '--data-dir=' + node.data).trim();
            node.clientKey = keys.generate();
            node.allow(node.clientKey.publicKey);
            args.push('--client-auth=curve');
        }
        for (let i = 0; i < PORT_TRIES; i++) {
            node.endpoint = `tcp://127.0.0.1:${await freePort()}`;
            const log = fs.openSync(node.log, 'a');
            node.child = spawn(CAIRND, ['--data-dir=' + node.data,
                                        '--client-endpoint=' + node.endpoint, ...args],
                               {stdio: ['ignore', log, log]});
            fs.closeSync(log);
            node.exit = new Promise((resolve) => node.child.once('exit', (code, signal) =>
                resolve(signal ? `signal ${signal}` : code)));
            node.exited = null;
            node.exit.then((status) => { node.exited = status; });
            if (await node._ready()) return node;
            if (node.exited === null) break;  // running but silent: no other port helps
        }
        const log = node.readLog();
        await node.stop(false);
        throw new Error(`cairnd did not answer a ping within ${START_MS} ms; its log:\n${log}`);
    }

    allow(publicKey) {
        fs.mkdirSync(path.join(this.data, 'curve'), {recursive: true, mode: 0o700});
        fs.appendFileSync(path.join(this.data, 'curve', 'clients'), `${publicKey} test client\n`);
    }

    connect(options = {}) {
        if (this.serverKey && !('serverKey' in options)) {
            options = {serverKey: this.serverKey, clientKey: this.clientKey, ...options};
        }
        return new Connection(this.endpoint, options);
    }

    async _ready() {
        const deadline = Date.now() + START_MS;
        const probe = this.connect({timeout: 200});
        try {
            while (Date.now() < deadline && this.exited === null) {
                try {
                    await probe.ping();
                    return true;
                } catch (err) {
                    if (!(err instanceof CairnTimeout)) throw err;
                }
            }
            return false;
        } finally {
            probe.close();
        }
    }

    readLog() {
        try {
            return fs.readFileSync(this.log, 'utf8').slice(-4000);
        } catch (err) {
            return '(no log)';
        }
    }

    // SIGTERM to our child's PID; its exit status (0 expected).
    async stop(expectClean = true) {
        if (!this.child) return this.status;
        if (this.exited === null) {
            this.child.kill('SIGTERM');
            const timer = setTimeout(() => this.child.kill('SIGKILL'), 60000);
            await this.exit;
            clearTimeout(timer);
        }
        this.status = await this.exit;
        this.child = null;
        if (expectClean && this.status !== 0) {
            throw new Error(`cairnd exited ${this.status}; its log:\n${this.readLog()}`);
        }
        fs.rmSync(this.dir, {recursive: true, force: true});
        return this.status;
    }
}

module.exports = {Node, runCairnd, wireApiVersion, CAIRND};
