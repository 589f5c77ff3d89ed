#include "apps/discovery_options.h"

#include <sstream>

namespace mint::apps {

void AddDiscoveryOptions(CLI::App* cmd, DiscoveryArgs* a) {
  cmd->add_option("--etcd", a->etcd,
                  "etcd client endpoints, host:port[,host:port...]: the members of one cluster, "
                  "used in order (the next when one fails)")
      ->capture_default_str();
  cmd->add_option("--discovery-prefix", a->prefix, "etcd key prefix of worker registrations")
      ->capture_default_str();
  cmd->add_option("--lease-ttl", a->lease_ttl_s,
                  "Seconds a registration outlives its worker's last keep-alive (a killed worker\n"
                  "leaves discovery within this)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
}

Result<std::unique_ptr<runtime::Discovery>> MakeDiscovery(const DiscoveryArgs& a) {
  runtime::EtcdOptions o;
  o.endpoints.clear();
  std::stringstream ss(a.etcd);
  for (std::string e; std::getline(ss, e, ',');) {
    if (!e.empty()) o.endpoints.push_back(e);
  }
  if (o.endpoints.empty()) return Status::InvalidArgument("--etcd names no endpoint");
  o.prefix = a.prefix;
  o.lease_ttl_s = a.lease_ttl_s;
  return runtime::NewEtcdDiscovery(o);
}

}  // namespace mint::apps
