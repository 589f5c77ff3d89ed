// `mint certs --out DIR`: a cluster CA and the cluster certificate for mutual TLS on the request
// plane (runtime/plane_tls.h). Copy DIR to every host; pass --tls-dir DIR to each frontend,
// worker and mocker.
#include "apps/app_util.h"
#include "apps/commands.h"
#include "core/log.h"
#include "runtime/plane_tls.h"

#include <filesystem>

namespace mint::apps {

CommandFn RegisterCerts(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "certs",
      "Write a new cluster CA and cluster certificate (ca.pem, cert.pem, key.pem) for mutual TLS "
      "between frontends and workers (--tls-dir)");
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("--out", *out, "Directory to write (created if missing)")->required();
  cmd->add_flag("--force", *force, "Overwrite files already there");
  return [out, force]() -> int {
    if (!*force && std::filesystem::exists(std::filesystem::path(*out) / "key.pem")) {
      return Fail(Status::InvalidArgument(*out + "/key.pem exists: pass --force to replace the "
                                          "cluster's certificates"));
    }
    auto tls = runtime::GeneratePlaneTls();
    if (!tls.ok()) return Fail(tls.status());
    if (Status st = runtime::WritePlaneTls(*tls, *out); !st.ok()) return Fail(st);
    log::Info("wrote {0}/ca.pem, {0}/cert.pem, {0}/key.pem (key readable by its owner only); "
              "copy the directory to each host and pass --tls-dir {0}",
              *out);
    return 0;
  };
}

}  // namespace mint::apps
