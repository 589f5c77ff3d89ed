// The router's view of an engine's KV event (engine/kv_events.h): the same ids, kind and block
// hashes, without the token ids. Shared by everything that feeds engines' events to a Router
// (the frontend's event-plane subscriber, the simulator).
#pragma once

#include "engine/kv_events.h"
#include "router/indexer.h"

namespace mint::router {

inline KvCacheEvent FromEngineEvent(const engine::KvEvent& e) {
  KvCacheEvent r;
  r.id = e.id;
  r.kind = e.kind == engine::KvEvent::Kind::kStored    ? KvCacheEvent::Kind::kStored
           : e.kind == engine::KvEvent::Kind::kRemoved ? KvCacheEvent::Kind::kRemoved
                                                       : KvCacheEvent::Kind::kCleared;
  r.block_hashes = e.block_hashes;
  r.parent_hash = e.parent_hash;
  r.tier = static_cast<uint8_t>(e.tier);
  return r;
}

}  // namespace mint::router
