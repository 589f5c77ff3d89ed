#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "transfer/shm_slots.h"
#include "transfer/transfer.h"

namespace mint::transfer {

Result<std::unique_ptr<SharedRegion>> SharedRegion::Create(uint64_t bytes) {
  if (bytes == 0) return Status::InvalidArgument("shared region of 0 bytes");
  std::random_device rd;
  char name[64];
  std::snprintf(name, sizeof(name), "/mint-kv-%d-%08x%08x", static_cast<int>(getpid()), rd(),
                rd());
  const int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError(std::string("shm_open: ") + std::strerror(errno));
  // The data, then (page aligned) the control area of same-host pulls (shm_slots.h).
  const uint64_t total = shm::ControlOffset(bytes) + shm::kControlBytes;
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    const int err = errno;
    close(fd);
    shm_unlink(name);
    return Status::ResourceExhausted(std::string("shared region: ") + std::strerror(err));
  }
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    shm_unlink(name);
    return Status::ResourceExhausted(std::string("mmap shared region: ") + std::strerror(errno));
  }
  auto r = std::unique_ptr<SharedRegion>(new SharedRegion());
  r->data_ = static_cast<uint8_t*>(p);
  r->size_ = bytes;
  r->name_ = name;
  auto* control = reinterpret_cast<shm::Control*>(r->data_ + shm::ControlOffset(bytes));
  control->magic = shm::kMagic;  // the slots are zero (free) from ftruncate
  control->version = shm::kVersion;
  control->slots = shm::kSlots;
  r->control_ = control;
  return r;
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) munmap(data_, shm::ControlOffset(size_) + shm::kControlBytes);
  if (!name_.empty()) shm_unlink(name_.c_str());
}

}  // namespace mint::transfer
