#include "kvstore/block_file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mint::kvstore {
namespace {

Status Errno(const std::string& what, const std::string& path, int err) {
  const std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  if (err == ENOSPC || err == EDQUOT) return Status::ResourceExhausted(msg);
  return Status::IoError(msg);
}

class PosixBlockFileIo final : public BlockFileIo {
 public:
  Status MakeDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Internal("mkdir " + dir + ": " + ec.message());
    return Status::Ok();
  }

  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("opendir", dir, errno);
    std::vector<FileInfo> out;
    while (dirent* e = ::readdir(d)) {
      struct stat st;
      const std::string path = dir + "/" + e->d_name;
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({e->d_name, static_cast<uint64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
    }
    ::closedir(d);
    return out;
  }

  Status WriteFile(const std::string& path,
                   std::span<const std::span<const uint8_t>> parts) override {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("create", tmp, errno);
    std::vector<iovec> iov;
    uint64_t total = 0;
    for (auto p : parts) {
      iov.push_back({const_cast<uint8_t*>(p.data()), p.size()});
      total += p.size();
    }
    uint64_t done = 0;
    size_t first = 0;
    while (done < total) {
      const ssize_t n = ::pwritev(fd, iov.data() + first, static_cast<int>(iov.size() - first),
                                  static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return Errno("write", tmp, err);
      }
      done += static_cast<uint64_t>(n);
      // Advance the iovecs past what was written.
      auto left = static_cast<uint64_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (first < iov.size()) {
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return Errno("close", tmp, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return Errno("rename", path, err);
    }
    return Status::Ok();
  }

  Status ReadFile(const std::string& path, uint64_t offset, std::span<uint8_t> out) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    uint64_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : 0;
        ::close(fd);
        if (err == 0) return Status::Corruption("read " + path + ": file is short");
        return Errno("read", path, err);
      }
      done += static_cast<uint64_t>(n);
    }
    ::close(fd);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path, errno);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<BlockFileIo> MakePosixBlockFileIo() { return std::make_unique<PosixBlockFileIo>(); }

}  // namespace mint::kvstore
