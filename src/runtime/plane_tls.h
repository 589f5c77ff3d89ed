// Mutual TLS for the internal gRPC plane (frontends <-> workers): who may call a worker.
//
// One cluster CA signs one cluster certificate; every process presents that certificate, as a
// server and as a client, and accepts only peers whose certificate the CA signed. The
// certificate's name is fixed (kPlaneTlsName) and clients verify it instead of the address, so
// the same files serve a worker on any host or port. `mint certs --out DIR` writes them; a
// single `mint serve --workers N --api-key ...` makes an ephemeral set in memory.
//
// The gRPC credentials made from it are in request_plane.h.
//
// Thread-safety: value types and free functions.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace mint::runtime {

inline constexpr char kPlaneTlsName[] = "mint-cluster";

struct PlaneTls {
  std::string ca_pem;    // the cluster CA's certificate: the only issuer peers may present
  std::string cert_pem;  // this process's certificate (the cluster certificate)
  std::string key_pem;   // its private key
  bool enabled() const { return !ca_pem.empty(); }
};

// Reads DIR/ca.pem, DIR/cert.pem and DIR/key.pem; errors name the missing or unreadable file.
Result<PlaneTls> LoadPlaneTls(const std::string& dir);
// A new CA and a cluster certificate signed by it (ECDSA P-256, SHA-256, valid 10 years).
Result<PlaneTls> GeneratePlaneTls();
// The event plane's CURVE secret key (ZeroMQ), derived from the cluster key: 32 bytes, the same
// in every process of the cluster, unknown to anyone without key.pem. Empty when not enabled.
std::string PlaneCurveSecret(const PlaneTls& tls);

// Writes the three files into `dir` (created if missing); key.pem is readable by its owner only.
Status WritePlaneTls(const PlaneTls& tls, const std::string& dir);

}  // namespace mint::runtime
