#include "runtime/convert_events.h"

namespace mint::runtime {

namespace {

pb::KvEvent::Kind KindToProto(engine::KvEvent::Kind kind) {
  switch (kind) {
    case engine::KvEvent::Kind::kStored:
      return pb::KvEvent::STORED;
    case engine::KvEvent::Kind::kRemoved:
      return pb::KvEvent::REMOVED;
    case engine::KvEvent::Kind::kCleared:
      return pb::KvEvent::CLEARED;
  }
  return pb::KvEvent::REMOVED;
}

engine::KvEvent::Kind KindFromProto(int kind) {
  switch (kind) {
    case pb::KvEvent::STORED:
      return engine::KvEvent::Kind::kStored;
    case pb::KvEvent::CLEARED:
      return engine::KvEvent::Kind::kCleared;
    default:
      return engine::KvEvent::Kind::kRemoved;
  }
}

}  // namespace

pb::KvEvent ToProto(const engine::KvEvent& event) {
  pb::KvEvent out;
  out.set_id(event.id);
  out.set_kind(KindToProto(event.kind));
  out.mutable_block_hashes()->Reserve(static_cast<int>(event.block_hashes.size()));
  for (BlockHash h : event.block_hashes) out.add_block_hashes(h);
  out.set_has_parent(event.parent_hash.has_value());
  if (event.parent_hash) out.set_parent_hash(*event.parent_hash);
  out.mutable_token_ids()->Add(event.token_ids.begin(), event.token_ids.end());
  out.set_tier(static_cast<pb::KvEvent::StorageTier>(event.tier));
  return out;
}

engine::KvEvent FromProto(const pb::KvEvent& event) {
  engine::KvEvent out;
  out.id = event.id();
  out.kind = KindFromProto(event.kind());
  out.block_hashes.assign(event.block_hashes().begin(), event.block_hashes().end());
  if (event.has_parent()) out.parent_hash = event.parent_hash();
  out.token_ids.assign(event.token_ids().begin(), event.token_ids().end());
  if (event.tier() == pb::KvEvent::HOST) out.tier = engine::StorageTier::kHost;
  if (event.tier() == pb::KvEvent::DISK) out.tier = engine::StorageTier::kDisk;
  return out;
}

bool IsValidKvEvent(const pb::KvEvent& event) { return pb::KvEvent::Kind_IsValid(event.kind()); }

pb::KvSnapshot ToProto(const engine::KvSnapshot& snapshot) {
  pb::KvSnapshot out;
  out.set_last_event_id(snapshot.last_event_id);
  out.mutable_blocks()->Reserve(static_cast<int>(snapshot.blocks.size()));
  for (const engine::KvEvent& block : snapshot.blocks) *out.add_blocks() = ToProto(block);
  return out;
}

engine::KvSnapshot FromProto(const pb::KvSnapshot& snapshot) {
  engine::KvSnapshot out;
  out.last_event_id = snapshot.last_event_id();
  out.blocks.reserve(static_cast<size_t>(snapshot.blocks_size()));
  for (const pb::KvEvent& block : snapshot.blocks()) out.blocks.push_back(FromProto(block));
  return out;
}

pb::LoadMetrics ToProto(const engine::EngineMetrics& metrics, const std::string& worker_id) {
  pb::LoadMetrics out;
  out.set_worker_id(worker_id);
  out.set_running(metrics.running);
  out.set_waiting(metrics.waiting);
  out.set_kv_blocks_used(metrics.blocks.used);
  out.set_kv_blocks_total(metrics.blocks.num_blocks);
  out.set_kv_usage(metrics.blocks.usage());
  out.set_prefill_tokens_queued(metrics.waiting_prefill_tokens);
  out.set_kv_blocks_cached(metrics.blocks.cached);
  out.set_kv_blocks_free(metrics.blocks.free);
  out.set_prefix_hit_rate(metrics.blocks.hit_rate());
  out.set_last_kv_event_id(metrics.last_kv_event_id);
  out.set_preemptions(static_cast<int64_t>(metrics.preemptions));
  for (const engine::StepRecord& r : metrics.recent_steps) {
    pb::StepSample* s = out.add_steps();
    s->set_step(r.step);
    s->set_prefill_tokens(r.prefill_tokens);
    s->set_decode_seqs(r.decode_seqs);
    s->set_decode_kv_tokens(r.decode_kv_tokens);
    s->set_seconds(r.seconds);
  }
  out.set_max_num_batched_tokens(metrics.max_num_batched_tokens);
  return out;
}

}  // namespace mint::runtime
