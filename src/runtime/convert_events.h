// Conversions between the engine's KV event / metrics types and their event-plane wire form
// (runtime.proto). Used by the event plane and by the worker's GetKvSnapshot / Health handlers.
//
// Thread-safety: pure functions on values.
#pragma once

#include <string>

#include "engine/engine.h"
#include "engine/kv_events.h"
#include "runtime/runtime.pb.h"

namespace mint::runtime {

pb::KvEvent ToProto(const engine::KvEvent& event);
// Check IsValidKvEvent first: a kind outside the enum (a newer peer) converts as kRemoved, the
// conservative reading (forget those blocks).
engine::KvEvent FromProto(const pb::KvEvent& event);
// True when `event`'s kind is one this build knows.
bool IsValidKvEvent(const pb::KvEvent& event);

pb::KvSnapshot ToProto(const engine::KvSnapshot& snapshot);
engine::KvSnapshot FromProto(const pb::KvSnapshot& snapshot);

// Load as a router / planner sees it. `last_kv_event_id` is copied from metrics; the publisher
// overwrites it with the last id it was handed (see event_plane.h).
pb::LoadMetrics ToProto(const engine::EngineMetrics& metrics, const std::string& worker_id);

}  // namespace mint::runtime
