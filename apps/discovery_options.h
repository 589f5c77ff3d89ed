// Discovery flags shared by `mint worker` and `mint frontend`.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "runtime/discovery.h"

namespace mint::apps {

struct DiscoveryArgs {
  std::string etcd = "127.0.0.1:2379";  // comma-separated host:port list
  std::string prefix = "/mint/workers/";
  int64_t lease_ttl_s = 10;
};

void AddDiscoveryOptions(CLI::App* cmd, DiscoveryArgs* a);
Result<std::unique_ptr<runtime::Discovery>> MakeDiscovery(const DiscoveryArgs& a);

}  // namespace mint::apps
