// Discovery flags shared by `mint worker` and `mint frontend`.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "runtime/discovery.h"
#include "runtime/plane_tls.h"

namespace mint::apps {

struct DiscoveryArgs {
  std::string etcd = "127.0.0.1:2379";  // comma-separated host:port list
  std::string prefix = "/mint/workers/";
  int64_t lease_ttl_s = 10;
  std::string tls_dir;          // mutual TLS on the request plane (mint certs --out DIR)
  bool insecure_plane = false;  // allow a plaintext request plane beyond loopback
  std::string etcd_tls_dir;     // TLS to etcd: ca.pem, cert.pem, key.pem
  std::string etcd_tls_name;    // the name etcd's certificate carries (default: the endpoint host)
};

void AddDiscoveryOptions(CLI::App* cmd, DiscoveryArgs* a);
Result<std::unique_ptr<runtime::Discovery>> MakeDiscovery(const DiscoveryArgs& a);
// The request plane's TLS from --tls-dir (disabled without it). A process whose request plane
// listens on `bind_host` (empty: it only dials) beyond loopback is refused without --tls-dir
// unless --insecure-plane says so: anyone on that network could otherwise call it.
Result<runtime::PlaneTls> PlaneTlsFromArgs(const DiscoveryArgs& a, const std::string& bind_host);

}  // namespace mint::apps
