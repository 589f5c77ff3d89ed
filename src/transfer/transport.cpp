// Transport names, parsing and capabilities; how an export ended, by name.

#include "transfer/transfer.h"
#include "transfer/ucx.h"

namespace mint::transfer {

const char* TransportName(Transport t) {
  switch (t) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kShm:
      return "shm";
    case Transport::kUcx:
      return "ucx";
  }
  return "?";
}

Result<Transport> ParseTransport(std::string_view name) {
  if (name == "tcp") return Transport::kTcp;
  if (name == "shm") return Transport::kShm;
  if (name == "ucx") {
    if (Status st = ucx::Available(); !st.ok()) return st.WithContext("KV transport 'ucx'");
    return Transport::kUcx;
  }
  return Status::InvalidArgument("unknown KV transport '" + std::string(name) +
                                 "' (tcp, shm, ucx)");
}

Capabilities CapabilitiesOf(Transport t) {
  switch (t) {
    case Transport::kShm:
      return {.cross_host = false, .one_copy = true};
    case Transport::kUcx:
      return {.cross_host = true, .one_copy = true};  // rendezvous: one copy
    case Transport::kTcp:
      break;
  }
  return {.cross_host = true, .one_copy = false};
}

const char* ExportEndName(ExportEnd e) {
  switch (e) {
    case ExportEnd::kPulled:
      return "pulled";
    case ExportEnd::kExpired:
      return "expired";
    case ExportEnd::kFailed:
      return "failed";
    case ExportEnd::kServerStopped:
      return "server stopped";
  }
  return "?";
}

}  // namespace mint::transfer
