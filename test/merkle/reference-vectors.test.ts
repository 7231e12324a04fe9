import test from 'ava';
import { createHash } from 'node:crypto';
import { MerkleTree } from 'merkletreejs';
import { EMPTY_ROOT, leafHash, nodeHash } from '../../log/merkle/hash.ts';
import { consistencyProof, inclusionProof, rootHash } from '../../log/merkle/proofs.ts';
import { verifyConsistency, verifyInclusion } from '../../log/merkle/verify.ts';
import { MemoryTree, hex, unhex } from './memory-tree.ts';

// RFC 6962 reference data as published with Certificate Transparency / Trillian (transparency-dev/merkle testonly).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CONSISTENCY = [
  { first: 1, second: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { first: 2, second: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
  { first: 2, second: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { first: 6, second: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];

const tree = new MemoryTree(LEAVES);

test('hash prefixes and the empty root are RFC 6962', (t) => {
  t.is(hex(EMPTY_ROOT), ROOTS[0]);
  t.is(hex(leafHash(new Uint8Array())), ROOTS[1]);
  t.is(hex(nodeHash(leafHash(LEAVES[0]), leafHash(LEAVES[1]))), ROOTS[2]);
});

test('roots of the reference tree at every size 0..8', (t) => {
  for (let n = 0; n <= 8; n++) t.is(hex(rootHash(tree, n)), ROOTS[n], `size ${n}`);
});

test('reference inclusion proofs are produced exactly and verify', (t) => {
  for (const v of INCLUSION) {
    t.deepEqual(inclusionProof(tree, v.index, v.size).map(hex), v.proof);
    t.true(verifyInclusion(tree.leafHashes[v.index], v.index, v.size, v.proof.map(unhex), unhex(ROOTS[v.size])));
  }
});

test('reference consistency proofs are produced exactly and verify', (t) => {
  for (const v of CONSISTENCY) {
    t.deepEqual(consistencyProof(tree, v.first, v.second).map(hex), v.proof, `${v.first} -> ${v.second}`);
    t.true(verifyConsistency(v.first, v.second, v.proof.map(unhex), unhex(ROOTS[v.first]), unhex(ROOTS[v.second])));
  }
});

// merkletreejs pairs nodes bottom-up and promotes a lone last node unchanged: for RFC 6962 that equals
// the largest-power-of-two split. Leaves are given pre-hashed (0x00 prefix), pairs hashed with 0x01.
function merkletreejsRoot(leafHashes: Buffer[]): Buffer {
  const hashPair = (data: Buffer) => createHash('sha256').update(Buffer.from([0x01])).update(data).digest();
  return new MerkleTree(leafHashes, hashPair, { hashLeaves: false, duplicateOdd: false, sortPairs: false }).getRoot();
}

test('roots agree with merkletreejs for sizes 1..70 and some larger trees', (t) => {
  const big = MemoryTree.ofSize(1100);
  const sizes = [...Array.from({ length: 70 }, (_, i) => i + 1), 127, 128, 129, 255, 256, 257, 511, 513, 1000, 1023, 1024, 1025, 1100];
  for (const n of sizes) {
    t.is(hex(rootHash(big, n)), hex(merkletreejsRoot(big.leafHashes.slice(0, n))), `size ${n}`);
  }
});
