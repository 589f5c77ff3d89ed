#!/usr/bin/env python3
"""Oracle for tests/core/hash_test.cpp: block hashes computed with python3-xxhash."""
import struct
import xxhash

SEED = 1337
local = xxhash.xxh3_64_intdigest(struct.pack('<4I', 1, 2, 3, 4), seed=SEED)
local2 = xxhash.xxh3_64_intdigest(struct.pack('<4I', 5, 6, 7, 8), seed=SEED)
seq2 = xxhash.xxh3_64_intdigest(struct.pack('<2Q', local, local2), seed=SEED)
salted = xxhash.xxh3_64_intdigest(struct.pack('<4I', 1, 2, 3, 4), seed=SEED + 7)
print(local, seq2, salted)
