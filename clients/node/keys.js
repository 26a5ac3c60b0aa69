'use strict';
// CURVE keys as docs/PROTOCOL.md ("CURVE") describes them: a key in text
// is 40 Z85 characters or 64 hex digits; a key file (what `cairn keygen`
// writes) is ZPL with `public-key = "..."` and `secret-key = "..."`.

const fs = require('fs');
const zmq = require('zeromq');

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const HEX = /^[0-9a-fA-F]{64}$/;

// A key for the socket options: a 40-character Z85 string as is, 64 hex
// digits as its 32 bytes (zeromq takes both).
function curveKey(what, text) {
    if (Buffer.isBuffer(text) && text.length === 32) return text;
    if (typeof text !== 'string') {
        throw new TypeError(`${what} is a CURVE key: 40 Z85 characters or 64 hex digits`);
    }
    const trimmed = text.trim();
    if (Z85.test(trimmed)) return trimmed;
    if (HEX.test(trimmed)) return Buffer.from(trimmed, 'hex');
    throw new RangeError(`${what} is a CURVE key: 40 Z85 characters or 64 hex digits, ` +
                         `not ${trimmed.length} characters`);
}

// A new key pair {publicKey, secretKey}, Z85 text.
function generate() {
    return zmq.curveKeyPair();
}

// Writes a pair as `cairn keygen` does: ZPL, mode 0600, never over a file.
function save(pair, file) {
    const text = '#   cairn CURVE key pair: keep this file secret\ncurve\n' +
                 `    public-key = "${pair.publicKey}"\n    secret-key = "${pair.secretKey}"\n`;
    fs.writeFileSync(file, text, {mode: 0o600, flag: 'wx'});
}

// Reads a key file of `cairn keygen` (or save above): {publicKey, secretKey}.
function load(file) {
    const text = fs.readFileSync(file, 'utf8');
    const field = (name) => {
        const m = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
        if (!m) throw new Error(`${file}: no ${name} line; is it a key file of \`cairn keygen\`?`);
        curveKey(`${file}: ${name}`, m[1]);
        return m[1];
    };
    return {publicKey: field('public-key'), secretKey: field('secret-key')};
}

module.exports = {curveKey, generate, save, load};
