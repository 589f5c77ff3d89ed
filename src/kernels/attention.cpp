// Causal grouped-query attention: work partitioning over the pool, dispatch, and the scalar
// reference kernel.
//
// Work item = (query token, kv head, run of up to kMaxAttnRows query heads of that kv head's
// group). Items are handed out dynamically from an atomic counter, latest token first, because
// causal rows differ in cost (token i reads pos0 + i + 1 keys): the expensive ones start first and
// the cheap ones fill the gaps at the end. Each thread owns one scratch buffer of
// AttnScratchFloats(head_dim) floats, so memory stays O(head_dim) whatever the context length.

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/ops_internal.h"

namespace mint::kernels {
namespace ops_detail {

// Flash-style: keys are scored a block at a time; per row we keep the running max m, the running
// sum of exp(score - m) l, and acc = sum of exp(score - m) * v, rescaling l and acc when m grows.
void AttendRowsScalar(const AttnRows& r, float* scratch) {
  const int64_t hd = r.head_dim;
  const AttnState st = StartAttnState(r, scratch);
  float* acc = st.acc;
  float* sc = st.sc;
  float* m = st.m;
  float* l = st.l;
  for (int64_t p0 = 0; p0 < r.n_keys; p0 += kAttnKeyBlock) {
    const int64_t nb = std::min(kAttnKeyBlock, r.n_keys - p0);
    for (int rr = 0; rr < r.n_rows; ++rr) {
      const float* q = r.q[rr];
      float* s = sc + rr * kAttnKeyBlock;
      for (int64_t j = 0; j < nb; ++j) {
        const float* k = r.k + (p0 + j) * r.kv_stride;
        float dot = 0.0f;
        for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
        s[j] = dot * r.scale;
      }
      float block_max = s[0];
      for (int64_t j = 1; j < nb; ++j) block_max = std::fmax(block_max, s[j]);
      const float m_new = std::fmax(m[rr], block_max);
      const float corr = std::exp(m[rr] - m_new);  // 0 on the first block (m = -inf)
      float sum = 0.0f;
      for (int64_t j = 0; j < nb; ++j) {
        s[j] = std::exp(s[j] - m_new);
        sum += s[j];
      }
      l[rr] = l[rr] * corr + sum;
      m[rr] = m_new;
      float* a = acc + rr * hd;
      for (int64_t d = 0; d < hd; ++d) a[d] *= corr;
      for (int64_t j = 0; j < nb; ++j) {
        const float* v = r.v + (p0 + j) * r.kv_stride;
        const float w = s[j];
        for (int64_t d = 0; d < hd; ++d) a[d] += w * v[d];
      }
    }
  }
  if (r.last) WriteAttnRows(r, st);
}

}  // namespace ops_detail

namespace {

using ops_detail::AttnRows;
using ops_detail::kMaxAttnRows;

using AttendFn = void (*)(const AttnRows&, float*);

AttendFn SelectKernel(Isa isa) {
  switch (ops_detail::ResolveIsa(isa)) {
    case Isa::kAvx512:
      return ops_detail::AttendRowsAvx512;
    case Isa::kAvx2:
      return ops_detail::AttendRowsAvx2;
    default:
      return ops_detail::AttendRowsScalar;
  }
}

// How the (token, head) pairs are cut into work items.
struct Partition {
  int64_t rows_per_item = 1;    // query heads per item, all of one kv group
  int64_t items_per_group = 1;  // ceil(n_rep / rows_per_item)
  int64_t n_items = 0;
};

Partition MakePartition(const AttentionShape& s, int n_threads) {
  const int64_t n_rep = s.n_head / s.n_kv_head;
  Partition p;
  p.rows_per_item = std::min<int64_t>(n_rep, kMaxAttnRows);
  // Sharing K/V loads across a group's heads is worth less than keeping every thread busy
  // (decode has one token): split groups until there are a few items per thread.
  for (;;) {
    p.items_per_group = (n_rep + p.rows_per_item - 1) / p.rows_per_item;
    p.n_items = s.n_tokens * s.n_kv_head * p.items_per_group;
    if (p.rows_per_item == 1 || p.n_items >= 4 * static_cast<int64_t>(n_threads)) break;
    p.rows_per_item = (p.rows_per_item + 1) / 2;
  }
  return p;
}

void RunItem(const float* q, const float* k, const float* v, const AttentionShape& s,
             const Partition& p, int64_t item, float* out, AttendFn attend, float* scratch) {
  const int64_t per_token = s.n_kv_head * p.items_per_group;
  const int64_t token = s.n_tokens - 1 - item / per_token;  // latest (most keys) first
  const int64_t g = (item % per_token) / p.items_per_group;
  const int64_t chunk = item % p.items_per_group;
  const int64_t n_rep = s.n_head / s.n_kv_head;
  const int64_t h0 = g * n_rep + chunk * p.rows_per_item;
  const int64_t h1 = std::min(g * n_rep + n_rep, h0 + p.rows_per_item);
  const int64_t row = s.n_head * s.head_dim;

  AttnRows r;
  r.n_rows = static_cast<int>(h1 - h0);
  for (int64_t h = h0; h < h1; ++h) {
    r.q[h - h0] = q + token * row + h * s.head_dim;
    r.out[h - h0] = out + token * row + h * s.head_dim;
  }
  r.k = k + g * s.head_dim;
  r.v = v + g * s.head_dim;
  r.kv_stride = s.kv_stride;
  r.head_dim = s.head_dim;
  r.n_keys = s.pos0 + token + 1;
  r.scale = s.scale;
  attend(r, scratch);
}

}  // namespace

void Attention(const float* q, const float* k, const float* v, const AttentionShape& shape,
               float* out, ThreadPool* pool, Isa isa) {
  assert(shape.n_kv_head > 0 && shape.n_head % shape.n_kv_head == 0);
  assert(shape.head_dim > 0 && shape.kv_stride >= shape.n_kv_head * shape.head_dim);
  assert(shape.pos0 >= 0);
  if (shape.n_tokens <= 0) return;
  const AttendFn attend = SelectKernel(isa);
  const int n_threads = pool ? pool->size() : 1;
  const Partition part = MakePartition(shape, n_threads);
  const int64_t scratch_floats = ops_detail::AttnScratchFloats(shape.head_dim);

  if (n_threads == 1 || part.n_items == 1) {
    std::vector<float> scratch(scratch_floats);
    for (int64_t it = 0; it < part.n_items; ++it) {
      RunItem(q, k, v, shape, part, it, out, attend, scratch.data());
    }
    return;
  }
  std::atomic<int64_t> next{0};
  pool->Run([&](int /*ith*/, int /*nth*/) {
    std::vector<float> scratch(scratch_floats);
    for (int64_t it = next.fetch_add(1, std::memory_order_relaxed); it < part.n_items;
         it = next.fetch_add(1, std::memory_order_relaxed)) {
      RunItem(q, k, v, shape, part, it, out, attend, scratch.data());
    }
  });
}

namespace {

// The query tokens of one paged work item: `count` consecutive tokens of one sequence, the latest
// first (token, token - 1, ...); n_keys is the latest's.
struct PagedRow {
  int32_t seq;
  int32_t token;
  int32_t count;
  int64_t n_keys;
};

// Prefill: up to `tokens_per_item` consecutive tokens of a sequence per item, so each K/V block is
// read once for all of them (the latest token's group first: it reads the most).
std::vector<PagedRow> GroupPagedRows(std::span<const PagedSeq> seqs, int tokens_per_item) {
  std::vector<PagedRow> rows;
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (int64_t t = seqs[i].n_tokens - 1; t >= 0; t -= tokens_per_item) {
      const auto count = static_cast<int32_t>(std::min<int64_t>(tokens_per_item, t + 1));
      rows.push_back(
          {static_cast<int32_t>(i), static_cast<int32_t>(t), count, seqs[i].pos0 + t + 1});
    }
  }
  // Most keys first: the expensive items start early and the cheap ones fill the gaps.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const PagedRow& a, const PagedRow& b) { return a.n_keys > b.n_keys; });
  return rows;
}

// The cache reads of one work item: kv head g of one sequence, its first n_keys positions.
struct PagedItemKeys {
  const int32_t* block_table;
  int64_t g;
  int64_t n_keys;
};

PagedItemKeys ItemKeys(std::span<const PagedSeq> seqs, const std::vector<PagedRow>& rows,
                       const AttentionShape& s, const Partition& p, int64_t item) {
  const int64_t per_token = s.n_kv_head * p.items_per_group;
  const PagedRow& pr = rows[item / per_token];
  return {seqs[pr.seq].block_table, (item % per_token) / p.items_per_group, pr.n_keys};
}

// Decode attention is bound by the latency of reading the cache, not by arithmetic: a block's
// rows for one head are only block_size * row_bytes contiguous bytes (2 KiB for F16, 64 dims),
// too short a stream for the hardware prefetcher, and consecutive blocks lie a whole block
// (every layer) apart. So the kernel asks for block b + kKvPrefetchBlocks while it works on block
// b, and a thread asks for its next item's first blocks before it starts the current one
// (PagedDecode in bench/ops_bench.cpp, F16, 16 sequences x 192 positions, 30 layers, 2 threads:
// 6.6-6.7 -> 3.1-3.5 ms per step; fetching two blocks ahead instead of one was slower).
constexpr int64_t kKvPrefetchBlocks = 1;

// Always inlined: GCC's IPA judges a function whose only effects are prefetches to have none
// and deletes the calls (it did here).
[[gnu::always_inline]] inline void PrefetchKvBlock(const PagedKv& kv, const PagedItemKeys& it,
                                                   int64_t b) {
  const int64_t n = std::min(kv.block_size, it.n_keys - b * kv.block_size) * kv.row_bytes;
  const uint8_t* k = kv.Row(kv.k, it.block_table[b], it.g, 0);
  const uint8_t* v = kv.Row(kv.v, it.block_table[b], it.g, 0);
  for (int64_t o = 0; o < n; o += 64) {
    __builtin_prefetch(k + o);
    __builtin_prefetch(v + o);
  }
}

// Asks for the blocks an item reads first (those its own run does not prefetch).
[[gnu::always_inline]] inline void PrefetchItemStart(const PagedKv& kv, const PagedItemKeys& it) {
  const int64_t n_blocks = (it.n_keys + kv.block_size - 1) / kv.block_size;
  for (int64_t b = 0; b < std::min(kKvPrefetchBlocks, n_blocks); ++b) PrefetchKvBlock(kv, it, b);
}

// Attends the item's query rows (its tokens' heads h0..h1) over their keys, one KV block per kernel
// call (the online softmax state carries across calls in `scratch`). The blocks every token of
// the item reads whole are attended once for all its rows; the rest token by token (each token's
// rows moved to rows [0, nh) of the scratch), so each token's keys go through the same segments as
// when it is alone: its result does not depend on its batch. Blocks of a non-F32 cache are
// converted to f32 first, into conv (2 * block_size * head_dim floats).
void RunPagedItem(const float* q, const PagedKv& kv, std::span<const PagedSeq> seqs,
                  const std::vector<PagedRow>& rows, const AttentionShape& s, const Partition& p,
                  int64_t item, float* out, AttendFn attend, Isa isa, float* scratch, float* conv) {
  const int64_t per_token = s.n_kv_head * p.items_per_group;
  const PagedRow& pr = rows[item / per_token];
  const PagedSeq& sq = seqs[pr.seq];
  const PagedItemKeys it = ItemKeys(seqs, rows, s, p, item);
  const int64_t g = it.g;
  const int64_t chunk = item % p.items_per_group;
  const int64_t n_rep = s.n_head / s.n_kv_head;
  const int64_t h0 = g * n_rep + chunk * p.rows_per_item;
  const int64_t h1 = std::min(g * n_rep + n_rep, h0 + p.rows_per_item);
  const int nh = static_cast<int>(h1 - h0);
  const int64_t hd = s.head_dim;
  const int64_t row = s.n_head * hd;
  const int64_t bs = kv.block_size;

  AttnRows r;
  r.n_rows = nh * pr.count;
  for (int k = 0; k < pr.count; ++k) {
    const int64_t batch_row = sq.row0 + pr.token - k;
    for (int64_t h = h0; h < h1; ++h) {
      r.q[k * nh + h - h0] = q + batch_row * row + h * hd;
      r.out[k * nh + h - h0] = out + batch_row * row + h * hd;
    }
  }
  r.head_dim = hd;
  r.kv_stride = hd;
  r.scale = s.scale;
  auto run_block = [&](AttnRows& rows_of, int64_t b, int64_t n_keys, bool last) {
    const int64_t n = std::min(bs, n_keys - b * bs);
    const int32_t block = sq.block_table[b];
    const uint8_t* kb = kv.Row(kv.k, block, g, 0);
    const uint8_t* vb = kv.Row(kv.v, block, g, 0);
    if (kv.type == DType::kF32) {
      rows_of.k = reinterpret_cast<const float*>(kb);
      rows_of.v = reinterpret_cast<const float*>(vb);
    } else if (kv.type == DType::kF16 && isa == Isa::kAvx512) {
      rows_of.k16 = reinterpret_cast<const uint16_t*>(kb);
      rows_of.v16 = reinterpret_cast<const uint16_t*>(vb);
    } else {
      ConvertToF32(kv.type, kb, conv, n * hd, isa);
      ConvertToF32(kv.type, vb, conv + bs * hd, n * hd, isa);
      rows_of.k = conv;
      rows_of.v = conv + bs * hd;
    }
    rows_of.n_keys = n;
    rows_of.first = b == 0;
    rows_of.last = last;
    attend(rows_of, scratch);
  };
  const int64_t n_blocks = (pr.n_keys + bs - 1) / bs;
  const int64_t shared_blocks = (pr.n_keys - (pr.count - 1)) / bs;  // whole for every token
  for (int64_t b = 0; b < shared_blocks; ++b) {
    if (b + kKvPrefetchBlocks < n_blocks) PrefetchKvBlock(kv, it, b + kKvPrefetchBlocks);
    run_block(r, b, pr.n_keys, false);
  }
  for (int k = 0; k < pr.count; ++k) {
    const int64_t n_keys = pr.n_keys - k;
    const int64_t token_blocks = (n_keys + bs - 1) / bs;
    AttnRows t = r;
    t.n_rows = nh;
    for (int i = 0; i < nh; ++i) {
      t.q[i] = r.q[k * nh + i];
      t.out[i] = r.out[k * nh + i];
      if (k > 0 && shared_blocks > 0) ops_detail::MoveAttnRowState(scratch, hd, k * nh + i, i);
    }
    if (token_blocks == shared_blocks) {
      ops_detail::WriteAttnRows(t, ops_detail::AttnStateIn(scratch, hd));
      continue;
    }
    for (int64_t b = shared_blocks; b < token_blocks; ++b) {
      if (k == 0 && b + kKvPrefetchBlocks < n_blocks)
        PrefetchKvBlock(kv, it, b + kKvPrefetchBlocks);
      run_block(t, b, n_keys, b == token_blocks - 1);
    }
  }
}

}  // namespace

void PagedKvStore(const PagedKv& kv, std::span<const PagedSeq> seqs, const float* k, const float* v,
                  int64_t n_kv_head, int64_t head_dim) {
  const int64_t kv_dim = n_kv_head * head_dim;
  for (const PagedSeq& sq : seqs) {
    for (int64_t t = 0; t < sq.n_tokens; ++t) {
      const int64_t pos = sq.pos0 + t;
      const int32_t block = sq.block_table[pos / kv.block_size];
      const int64_t slot = pos % kv.block_size;
      const float* kr = k + (sq.row0 + t) * kv_dim;
      const float* vr = v + (sq.row0 + t) * kv_dim;
      for (int64_t g = 0; g < n_kv_head; ++g) {
        ConvertFromF32(kv.type, kr + g * head_dim, kv.Row(kv.k, block, g, slot), head_dim);
        ConvertFromF32(kv.type, vr + g * head_dim, kv.Row(kv.v, block, g, slot), head_dim);
      }
    }
  }
}

void PagedAttention(const float* q, const PagedKv& kv, std::span<const PagedSeq> seqs,
                    const AttentionShape& shape, float* out, ThreadPool* pool, Isa isa) {
  assert(shape.n_kv_head > 0 && shape.n_head % shape.n_kv_head == 0);
  assert(kv.row_bytes == DTypeRowBytes(kv.type, shape.head_dim));
  assert(kv.head_stride >= kv.block_size * kv.row_bytes);  // a head's rows are contiguous
  const int n_threads = pool ? pool->size() : 1;
  const int64_t n_rep = shape.n_head / shape.n_kv_head;
  // Tokens per item: as many whole kv groups as fit kMaxAttnRows, unless that leaves too few items
  // to keep the threads busy (MakePartition then splits groups, and one token per item is better).
  AttentionShape s = shape;
  std::vector<PagedRow> rows;
  Partition part;
  for (int tokens = std::max<int64_t>(1, kMaxAttnRows / n_rep);; tokens = 1) {
    rows = GroupPagedRows(seqs, tokens);
    s.n_tokens = static_cast<int64_t>(rows.size());
    part = MakePartition(s, n_threads);
    if (tokens == 1 || part.rows_per_item == n_rep) break;
  }
  if (rows.empty()) return;
  const Isa resolved = ops_detail::ResolveIsa(isa);
  const AttendFn attend = SelectKernel(resolved);
  const int64_t scratch_floats =
      ops_detail::AttnScratchFloats(s.head_dim) + 2 * kv.block_size * s.head_dim;
  const int64_t conv_offset = ops_detail::AttnScratchFloats(s.head_dim);
  auto run_items = [&](auto&& next_item) {
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < scratch_floats) scratch.resize(scratch_floats);
    // One item ahead: its first blocks load while this thread works on the current one.
    int64_t it = next_item();
    if (it < part.n_items) PrefetchItemStart(kv, ItemKeys(seqs, rows, s, part, it));
    while (it < part.n_items) {
      const int64_t following = next_item();
      if (following < part.n_items) {
        PrefetchItemStart(kv, ItemKeys(seqs, rows, s, part, following));
      }
      RunPagedItem(q, kv, seqs, rows, s, part, it, out, attend, resolved, scratch.data(),
                   scratch.data() + conv_offset);
      it = following;
    }
  };
  if (n_threads == 1 || part.n_items == 1) {
    int64_t i = 0;
    run_items([&] { return i++; });
    return;
  }
  std::atomic<int64_t> next{0};
  pool->Run([&](int /*ith*/, int /*nth*/) {
    run_items([&] { return next.fetch_add(1, std::memory_order_relaxed); });
  });
}

}  // namespace mint::kernels
