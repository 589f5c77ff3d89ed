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

}  // namespace mint::engine
