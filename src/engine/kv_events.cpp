#include "engine/kv_events.h"

namespace mint::engine {

const char* KvEventKindName(KvEvent::Kind kind) {
  switch (kind) {
    case KvEvent::Kind::kStored:
      return "Stored";
    case KvEvent::Kind::kRemoved:
      return "Removed";
    case KvEvent::Kind::kCleared:
      return "Cleared";
  }
  return "Unknown";
}

const char* StorageTierName(StorageTier tier) {
  switch (tier) {
    case StorageTier::kDevice:
      return "device";
    case StorageTier::kHost:
      return "host";
    case StorageTier::kDisk:
      return "disk";
  }
  return "unknown";
}

}  // namespace mint::engine
