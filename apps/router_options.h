// Router flags shared by `mint frontend` and `mint serve --workers N`.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "router/queue.h"
#include "router/router.h"

namespace mint::apps {

struct RouterArgs {
  std::string mode = "kv";
  int32_t block_size = 16;
  double overlap_credit = 1.0;
  double prefill_load_scale = 1.0;
  double temperature = 0.0;
  std::string cost = "seconds";
  double itl_weight = 3.0;
  double cache_credit = 5.0;
  double host_tier_credit = 0.75;
  double disk_tier_credit = 0.25;
  std::string step_profile;
  std::string queue_policy;  // empty: no router queue
  double queue_busy_s = 0.5;
  double queue_max_age_s = 10;
  bool no_kv_events = false;
  bool no_in_flight = false;
  double approx_ttl_s = 120;
  uint64_t seed = 0;
};

void AddRouterOptions(CLI::App* cmd, RouterArgs* a);
Result<router::RouterConfig> MakeRouterConfig(const RouterArgs& a);
// --router-queue-policy: nullopt when no queue was asked for.
Result<std::optional<router::QueuePolicy>> RouterQueuePolicy(const RouterArgs& a);

}  // namespace mint::apps
