'use strict';
// The cairn wire schemas, loaded at run time with protobufjs from the
// repository's schemas/ folder (or any copy of it: CAIRN_SCHEMAS).
//
// The envelope (cairn.Request, cairn.Response) is assembled here exactly as
// the build's schemas/envelope.cmake assembles build/schemas/cairn.proto:
// each store file's lines
//
//     // request NUMBER NAME: RequestType -> ResponseType [RESPONSE_NAME]
//
// become `RequestType NAME = NUMBER;` in Request.body and
// `ResponseType RESPONSE_NAME-or-NAME = NUMBER;` in Response.body. So no
// build directory and no protoc are needed, and a new request kind in the
// schemas is known to this client without a change here.

const fs = require('fs');
const path = require('path');
const protobuf = require('protobufjs');

const DEFAULT_DIR = process.env.CAIRN_SCHEMAS || path.join(__dirname, '..', '..', 'schemas');
// Not the client API: the envelope template, between actors, between nodes.
const NOT_STORES = new Set(['envelope.proto', 'internal.proto', 'peer.proto']);
const REQUEST_LINE =
    /^\/\/ request ([0-9]+) ([a-z][a-z0-9_]*): ([A-Z][A-Za-z0-9_]*) -> ([A-Z][A-Za-z0-9_]*)(?: ([a-z][a-z0-9_]*))?$/;

const cache = new Map();

// Loads the schemas of `dir`: { root, Request, Response, Status, kinds },
// where kinds maps a request name ('ping', 'config_get', ...) to
// { number, name, requestType, responseName, responseType }.
function load(dir = DEFAULT_DIR) {
    dir = path.resolve(dir);
    if (cache.has(dir)) return cache.get(dir);
    const envelopePath = path.join(dir, 'envelope.proto');
    if (!fs.existsSync(envelopePath)) {
        throw new Error(`no envelope.proto in ${dir}: pass the cairn schemas/ folder ` +
                        '(option schemas, or CAIRN_SCHEMAS)');
    }
    const stores = fs.readdirSync(dir)
                       .filter((name) => name.endsWith('.proto') && !NOT_STORES.has(name))
                       .sort();
    const entries = [];
    const byNumber = new Map();
    const byName = new Map();
    for (const store of stores) {
        const text = fs.readFileSync(path.join(dir, store), 'utf8');
        for (const line of text.split('\n')) {
            if (!line.startsWith('// request ')) continue;
            const m = REQUEST_LINE.exec(line.trimEnd());
            if (!m) throw new Error(`${store}: cannot read '${line}'`);
            const entry = {number: Number(m[1]), name: m[2], requestType: m[3],
                           responseType: m[4], responseName: m[5] || m[2]};
            for (const [map, key] of [[byNumber, entry.number], [byName, entry.name]]) {
                if (map.has(key)) {
                    throw new Error(`request ${key} is taken twice: ${map.get(key)} and ${store}`);
                }
                map.set(key, store);
            }
            entries.push(entry);
        }
    }
    entries.sort((a, b) => a.number - b.number);
    const template = fs.readFileSync(envelopePath, 'utf8');
    const envelope =
        template.replace('@IMPORTS@', '')
            .replace('@REQUEST_BODY@',
                     entries.map((e) => `        ${e.requestType} ${e.name} = ${e.number};`).join('\n'))
            .replace('@RESPONSE_BODY@', entries.map((e) => `        ${e.responseType} ` +
                                                       `${e.responseName} = ${e.number};`).join('\n'));

    const root = new protobuf.Root();
    root.loadSync(stores.map((name) => path.join(dir, name)), {keepCase: true});
    protobuf.parse(envelope, root, {keepCase: true});
    root.resolveAll();

    const kinds = new Map();
    for (const e of entries) {
        kinds.set(e.name, {...e, requestClass: root.lookupType('cairn.' + e.requestType),
                           responseClass: root.lookupType('cairn.' + e.responseType)});
    }
    const Status = root.lookupEnum('cairn.Status');
    const schemas = {
        dir,
        root,
        Request: root.lookupType('cairn.Request'),
        Response: root.lookupType('cairn.Response'),
        Status,
        statusName: (value) => Status.valuesById[value] || `STATUS_${value}`,
        kinds,
        kindByNumber: new Map(entries.map((e) => [e.number, kinds.get(e.name)])),
    };
    cache.set(dir, schemas);
    return schemas;
}

module.exports = {load, DEFAULT_DIR};
