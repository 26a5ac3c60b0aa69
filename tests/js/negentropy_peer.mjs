// An independent negentropy peer for cairn's interoperability tests
// (tests/e2e_sync.c): the Negentropy class of the nostr-tools npm package
// (nip77), spoken over ZeroMQ with the zeromq npm package.
//
//   node negentropy_peer.mjs initiate ENDPOINT SET ITEMS [FRAME_LIMIT]
//       Runs the initiator against a cairnd client endpoint with
//       SyncReconcile requests (schemas/sync.proto, hand-encoded below) and
//       prints {"have":[...],"need":[...],"rounds":N,"sent":B,"received":B}.
//   node negentropy_peer.mjs respond ENDPOINT ITEMS [FRAME_LIMIT]
//       Binds a REP socket and answers each raw negentropy message; prints
//       "ready" once bound. A request "END" is answered with the JSON of
//       what this side found ({"have":[...],"need":[...]}, its own view:
//       nostr-tools reports differences on whichever side reads an id
//       list), then it exits.
//
// ITEMS: one "TIMESTAMP HEXID" a line. Ids are printed as lower-case hex.
import { readFileSync } from 'node:fs'
import { nip77 } from 'nostr-tools' // 2.x: nip77 comes from the index
import * as zmq from 'zeromq'

const { Negentropy, NegentropyStorageVector } = nip77

function loadItems(path) {
  const storage = new NegentropyStorageVector()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const [timestamp, id] = line.trim().split(' ')
    storage.insert(Number(timestamp), id)
  }
  storage.seal()
  return storage
}

// ---- protobuf, the few fields needed (proto3 wire format) ----
function varint(n) {
  const out = []
  let v = BigInt(n)
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v) byte |= 0x80
    out.push(byte)
  } while (v)
  return Buffer.from(out)
}
const field = (number, wire, payload) => Buffer.concat([varint((number << 3) | wire), payload])
const bytesField = (number, data) => field(number, 2, Buffer.concat([varint(data.length), data]))
const varintField = (number, value) => field(number, 0, varint(value))

const SYNC_RECONCILE = 1500 // schemas/sync.proto: request 1500 sync_reconcile

function encodeRequest(id, set, message, frameLimit) {
  const body = Buffer.concat([
    bytesField(1, Buffer.from(set, 'utf8')),
    bytesField(2, message),
    frameLimit ? varintField(3, frameLimit) : Buffer.alloc(0),
  ])
  return Buffer.concat([varintField(1, id), bytesField(SYNC_RECONCILE, body)])
}

function decodeFields(buf) {
  const fields = new Map()
  let at = 0
  const readVarint = () => {
    let v = 0n, shift = 0n
    for (;;) {
      const byte = buf[at++]
      if (byte === undefined) throw Error('truncated varint')
      v |= BigInt(byte & 0x7f) << shift
      shift += 7n
      if (!(byte & 0x80)) return v
    }
  }
  while (at < buf.length) {
    const key = Number(readVarint())
    const number = key >> 3, wire = key & 7
    let value
    if (wire === 0) value = readVarint()
    else if (wire === 2) {
      const length = Number(readVarint())
      value = buf.subarray(at, at + length)
      at += length
    } else if (wire === 1) { value = buf.subarray(at, at + 8); at += 8 }
    else if (wire === 5) { value = buf.subarray(at, at + 4); at += 4 }
    else throw Error('unsupported wire type ' + wire)
    fields.set(number, value)
  }
  return fields
}

async function initiate(endpoint, set, itemsPath, frameLimit) {
  const ne = new Negentropy(loadItems(itemsPath), frameLimit || 60000)
  const socket = new zmq.Dealer({ receiveTimeout: 30000 })
  socket.connect(endpoint)
  const have = [], need = []
  let message = Buffer.from(ne.initiate(), 'hex')
  let rounds = 0, sent = 0, received = 0
  while (message) {
    if (++rounds > 200) throw Error('more than 200 rounds')
    sent += message.length
    await socket.send(encodeRequest(rounds, set, message, frameLimit))
    const [frame] = await socket.receive()
    const response = decodeFields(frame)
    const status = Number(response.get(2) ?? 0n)
    if (status !== 0)
      throw Error(`status ${status}: ${Buffer.from(response.get(3) ?? []).toString()}`)
    const answer = decodeFields(response.get(SYNC_RECONCILE) ?? Buffer.alloc(0))
    const reply = Buffer.from(answer.get(1) ?? Buffer.alloc(0))
    received += reply.length
    const next = ne.reconcile(reply.toString('hex'), id => have.push(id), id => need.push(id))
    message = next ? Buffer.from(next, 'hex') : null
  }
  socket.close()
  const unique = list => [...new Set(list)].sort()
  console.log(JSON.stringify({ have: unique(have), need: unique(need), rounds, sent, received }))
}

async function respond(endpoint, itemsPath, frameLimit) {
  const ne = new Negentropy(loadItems(itemsPath), frameLimit || 60000)
  const socket = new zmq.Reply({ receiveTimeout: 60000 })
  await socket.bind(endpoint)
  console.log('ready')
  const have = new Set(), need = new Set()
  for (;;) {
    const [frame] = await socket.receive()
    if (frame.toString() === 'END') {
      await socket.send(JSON.stringify({ have: [...have].sort(), need: [...need].sort() }))
      break
    }
    let answer
    try {
      answer = ne.reconcile(frame.toString('hex'), id => have.add(id), id => need.add(id))
    } catch (error) {
      await socket.send('ERROR ' + error.message)
      continue
    }
    await socket.send(answer ? Buffer.from(answer, 'hex') : Buffer.alloc(0))
  }
  socket.close()
}

const [mode, ...args] = process.argv.slice(2)
try {
  if (mode === 'initiate') await initiate(args[0], args[1], args[2], Number(args[3] || 0))
  else if (mode === 'respond') await respond(args[0], args[1], Number(args[2] || 0))
  else {
    console.error('usage: negentropy_peer.mjs initiate ENDPOINT SET ITEMS [LIMIT] | respond ENDPOINT ITEMS [LIMIT]')
    process.exit(2)
  }
} catch (error) {
  console.error('negentropy_peer: ' + error.message)
  process.exit(1)
}
