// Prints the negentropy test vectors pinned in actors/wire/ca_negentropy.c
// (ca_negentropy_test), computed with the nostr-tools implementation:
//   node tests/js/vectors.mjs
// nostr-tools 2.x exports nip77 from its index (no ./nip77 subpath).
import { nip77 } from 'nostr-tools'
const { Negentropy, NegentropyStorageVector } = nip77
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'

// The self-test's sets: ids SHA-256 of the decimal text of n, timestamp
// 1000 + floor(n / 3), n in [from, to) except n % mod == rem.
function testSet(from, to, mod, rem) {
  const storage = new NegentropyStorageVector()
  for (let n = from; n < to; n++) {
    if (mod && n % mod === rem) continue
    storage.insert(1000 + Math.floor(n / 3), bytesToHex(sha256(new TextEncoder().encode(String(n)))))
  }
  storage.seal()
  return storage
}
const digest = hex => bytesToHex(sha256(Buffer.from(hex, 'hex')))

const a = testSet(0, 200, 0, 0)
console.log('fingerprint all 200:', bytesToHex(a.fingerprint(0, 200)))
console.log('fingerprint [13, 150):', bytesToHex(a.fingerprint(13, 150)))
console.log('fingerprint empty:', bytesToHex(a.fingerprint(0, 0)))
const init = new Negentropy(a).initiate()
console.log('initiate 200: size', init.length / 2, 'sha256', digest(init))
const b = testSet(0, 200, 7, 0)
const answer = new Negentropy(b).reconcile(init)
console.log('answer of 200 minus every 7th: size', answer.length / 2, 'sha256', digest(answer))
console.log('initiate 3 items:', new Negentropy(testSet(0, 3, 0, 0)).initiate())
const big = testSet(0, 5000, 0, 0)
const bigAnswer = new Negentropy(testSet(0, 5000, 11, 3), 4096).reconcile(new Negentropy(big).initiate())
console.log('answer 5000 minus every 11th, limit 4096: size', bigAnswer.length / 2, 'sha256', digest(bigAnswer))
