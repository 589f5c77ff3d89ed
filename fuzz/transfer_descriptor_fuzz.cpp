// libFuzzer target: the KV transfer descriptor parser (bytes that arrive through the request
// plane from another worker). Any input must parse or fail cleanly; whatever parses must
// serialize back to the same bytes and parse again to the same descriptor.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "transfer/transfer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto d = mint::transfer::ParseDescriptor(bytes);
  if (!d.ok()) return 0;
  const std::string again = mint::transfer::Serialize(*d);
  if (again != bytes) std::abort();
  auto d2 = mint::transfer::ParseDescriptor(again);
  if (!d2.ok() || d2->blocks != d->blocks || d2->secret != d->secret ||
      d2->shm_slot != d->shm_slot) {
    std::abort();
  }
  return 0;
}
