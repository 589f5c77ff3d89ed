// KvConnector: the engine's seam to KV blocks that live outside its own pool — another worker's
// (disaggregated prefill -> decode) or another tier (host RAM, disk: src/kvstore).
//
// The engine calls it at three points of a block's life:
//   admission  A request with Request::kv_import is admitted: the engine takes what its own
//              prefix cache holds of the imported range, allocates blocks for the rest, and asks
//              the connector to Load them. The sequence then waits for KV (SeqStatus::
//              kWaitingForKv): it holds its blocks but is in no step, and the loop never blocks
//              on the load. When done(ok) arrives the imported tokens count as computed (their
//              full blocks enter the prefix cache) and the sequence runs; on failure it recomputes
//              them (EngineConfig::kv_load_failure_recompute) or ends with kError.
//   finish     A request with Request::kv_export finishes by length (one that stopped is not
//              continued anywhere, so it exports nothing): the blocks holding its prompt's KV are
//              not released but handed to Export, referenced (so never evicted or reused) until
//              the connector calls release; the handle it returns reaches the caller in the final
//              output (RequestOutput::kv_export_handle), for the puller's Request::kv_import.
//              Any other request, when its prompt's next blocks after the pool's cached prefix
//              are not in the pool: the engine asks Lookup how many of them the connector holds
//              (and would rather load than have recomputed); if any, the sequence is admitted
//              to load them the same way (KvLoad::source empty, KvLoad::hashes set), and a
//              failed load always recomputes.
//   eviction   With offload_point() kEviction, Offer gets each cached block's KV just before
//              the pool hands the block out again (kCompletion: as soon as a block is full and
//              cached). The copy must be made inside the call.
//
// Block ids index the engine's KV memory (Engine::kv_memory()): block b is one contiguous range
// of block_bytes, all layers' K and V.
//
// Thread-safety: Load and Export are called on the engine's loop thread and must return
// promptly (start I/O, do not wait for it). done and release may run on any thread, each exactly
// once; the engine must still exist when done runs (it waits for loads in flight before it
// stops), while release may come after the engine is gone (it is then a no-op). A connector
// that reads block memory (an exporter serving pulls) must stop doing so before the engine is
// destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/status.h"
#include "engine/block_pool.h"
#include "engine/kv_events.h"

namespace mint::engine {

// Where an engine's KV blocks live (for a connector that moves them): block b is the
// block_bytes bytes at base + b * block_bytes. Empty (base null) for a simulated engine.
struct KvMemory {
  uint8_t* base = nullptr;
  int64_t block_bytes = 0;
  int64_t num_blocks = 0;
};

struct KvLoad {
  uint64_t request_id = 0;
  std::string source;           // Request::kv_import, opaque to the engine; empty: from Lookup
  int64_t num_tokens = 0;       // the KV of tokens [0, num_tokens) is loaded
  std::vector<BlockId> blocks;  // the sequence's blocks covering [0, num_tokens), in order
  int64_t num_local_blocks = 0;  // leading blocks already valid (local prefix cache): skip them
  std::vector<BlockHash> hashes;  // source empty: the sequence hashes of `blocks`
};

enum class OffloadPoint { kNone, kEviction, kCompletion };

class KvConnector {
 public:
  virtual ~KvConnector() = default;

  // The engine's KV memory, `bytes` of it, if the connector wants to provide it (shared memory
  // a same-host peer maps, memory registered with a network card); it must outlive the engine.
  // Null (the default): the engine allocates its own.
  virtual Result<uint8_t*> AllocateKvMemory(uint64_t bytes) { return nullptr; }
  // The engine's KV memory, once it exists (before any other call below).
  virtual void OnKvMemory(const KvMemory& memory) {}

  // Admission: how many leading blocks of `hashes` (the prompt's full blocks right after what
  // the pool holds) this connector can load, counting only blocks that load faster than
  // `recompute_seconds_per_block` (0: unknown, do not compare). Loop thread; an index lookup.
  virtual int64_t Lookup(std::span<const BlockHash> hashes, double recompute_seconds_per_block) {
    return 0;
  }
  // Where the connector reports its tiers' blocks (Stored / Removed, tier kHost or kDisk, id 0;
  // kv_events.h); the engine forwards them to its KV event subscribers. The sink may be called
  // from any thread, and does nothing once the engine is gone.
  virtual void SetEventSink(std::function<void(KvEvent)> sink) {}
  // Eviction (or completion, see offload_point): a cached block's KV, valid during the call
  // (null for a simulated engine, which has no KV bytes).
  virtual OffloadPoint offload_point() const { return OffloadPoint::kNone; }
  virtual void Offer(BlockHash hash, std::optional<BlockHash> parent, const uint8_t* bytes) {}

  // Starts loading blocks [num_local_blocks, blocks.size()) of `load`; returns at once. `done`
  // runs exactly once, from any thread.
  virtual void Load(KvLoad load, std::function<void(Status)> done) = 0;

  // Exports the KV of tokens [0, num_tokens) of a finished request, held in `blocks`. Returns
  // the handle for the puller; the engine keeps the blocks until `release` runs (any thread,
  // exactly once; after an error return, never: the engine releases them at once).
  virtual Result<std::string> Export(uint64_t request_id, std::span<const BlockId> blocks,
                                     int64_t num_tokens, std::function<void()> release) = 0;
};

}  // namespace mint::engine
