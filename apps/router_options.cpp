#include "apps/router_options.h"

#include "mocker/timing_model.h"

namespace mint::apps {

void AddRouterOptions(CLI::App* cmd, RouterArgs* a) {
  cmd->add_option("--router-mode", a->mode,
                  "How a worker is chosen: kv (KV-cache overlap x load), round-robin, random,\n"
                  "least-loaded")
      ->capture_default_str();
  cmd->add_option("--kv-block-size", a->block_size,
                  "Tokens per KV block the router hashes (must equal the workers' --block-size)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--router-cost", a->cost,
                  "kv mode's unit: seconds (predicted TTFT + itl-weight x ITL impact, from each\n"
                  "worker's step times, learned online) or blocks (the block-count cost below)")
      ->capture_default_str();
  cmd->add_option("--router-itl-weight", a->itl_weight,
                  "seconds cost: output tokens the ITL term stands for (0: TTFT only)")
      ->capture_default_str();
  cmd->add_option("--router-cache-credit", a->cache_credit,
                  "seconds cost: a cached prefix is worth this many times the prefill time it\n"
                  "saves (> 1: it also keeps the prefix hot for the requests that follow)")
      ->capture_default_str();
  cmd->add_option("--router-host-credit", a->host_tier_credit,
                  "a block in a worker's host KV tier counts this much of a cached block (0-1)")
      ->capture_default_str();
  cmd->add_option("--router-disk-credit", a->disk_tier_credit,
                  "a block in a worker's disk KV tier counts this much of a cached block (0-1)")
      ->capture_default_str();
  cmd->add_option("--router-step-profile", a->step_profile,
                  "seconds cost: a timing profile (mint profile / mocker --timing-profile JSON)\n"
                  "that every worker's step-time model starts from before its own steps arrive\n"
                  "(default: Dynamo's polynomial)");
  cmd->add_option("--kv-overlap-credit", a->overlap_credit,
                  "blocks cost: prefill blocks saved per cached block on a worker")
      ->capture_default_str();
  cmd->add_option("--prefill-load-scale", a->prefill_load_scale,
                  "blocks cost: weight of prefill work against decode load\n"
                  "(cost = scale x max(prefill_blocks - credit x overlap, 0) + decode_blocks)")
      ->capture_default_str();
  cmd->add_option("--router-temperature", a->temperature,
                  "0: the cheapest worker; > 0: sample by softmax over normalized cost")
      ->capture_default_str();
  cmd->add_flag("--no-kv-events", a->no_kv_events,
                "Do not use the workers' KV events: predict their caches from the router's own\n"
                "decisions (for engines that publish none)");
  cmd->add_flag("--no-in-flight-prefixes", a->no_in_flight,
                "Count a worker's cached prefixes from its KV events only, not also the prompts\n"
                "routed to it that are still in prefill");
  cmd->add_option("--approx-ttl", a->approx_ttl_s,
                  "With --no-kv-events: seconds a predicted cached block is trusted")
      ->capture_default_str();
  cmd->add_option("--router-queue-policy", a->queue_policy,
                  "Hold new requests at the router while every worker is busy, releasing them in\n"
                  "this order as workers free up: fcfs, or wspt (shortest predicted prefill\n"
                  "first, bounded by --router-queue-max-age). Default: no queue")
      ->check(CLI::IsMember({"fcfs", "wspt"}));
  cmd->add_option("--router-queue-busy", a->queue_busy_s,
                  "Router queue: a worker is busy with at least this many seconds of prefill\n"
                  "queued (its step-time model's estimate)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--router-queue-max-age", a->queue_max_age_s,
                  "Router queue, wspt: a request held this many seconds goes before younger ones")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--router-seed", a->seed, "Seed of random choices (random mode, ties, temperature)")
      ->capture_default_str();
}

Result<router::RouterConfig> MakeRouterConfig(const RouterArgs& a) {
  router::RouterConfig c;
  auto mode = router::ParseMode(a.mode);
  if (!mode.ok()) return mode.status().WithContext("--router-mode");
  c.mode = *mode;
  c.block_size = a.block_size;
  c.overlap_credit = a.overlap_credit;
  c.prefill_load_scale = a.prefill_load_scale;
  c.temperature = a.temperature;
  auto cost = router::ParseCostUnit(a.cost);
  if (!cost.ok()) return cost.status().WithContext("--router-cost");
  c.cost = *cost;
  c.itl_weight = a.itl_weight;
  c.cache_credit = a.cache_credit;
  c.host_tier_credit = a.host_tier_credit;
  c.disk_tier_credit = a.disk_tier_credit;
  if (!a.step_profile.empty()) {
    auto timing = mocker::TimingModel::LoadProfile(a.step_profile);
    if (!timing.ok()) return timing.status().WithContext("--router-step-profile");
    c.step_prior = router::FitPrior([&t = *timing](int64_t p, int64_t s, int64_t k) {
      return t.StepMs({.prefill_tokens = p, .decode_seqs = s, .decode_kv_tokens = k,
                       .kv_capacity_tokens = 16384 * 16}) / 1e3;
    });
  }
  c.use_kv_events = !a.no_kv_events;
  c.track_in_flight = !a.no_in_flight;
  c.approx.ttl_seconds = a.approx_ttl_s;
  c.seed = a.seed;
  MINT_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace mint::apps

namespace mint::apps {

Result<std::optional<router::QueuePolicy>> RouterQueuePolicy(const RouterArgs& a) {
  if (a.queue_policy.empty()) return std::optional<router::QueuePolicy>();
  auto p = router::ParseQueuePolicy(a.queue_policy);
  if (!p.ok()) return p.status().WithContext("--router-queue-policy");
  return std::optional<router::QueuePolicy>(*p);
}

}  // namespace mint::apps
