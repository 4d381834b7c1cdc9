// src/extract: FileSink (see file_sink.hpp). Plain POSIX I/O: write(2) loops, fdatasync at
// checkpoints, fsync + rename + directory fsync at the end, errors as values naming the path.
#include "extract/file_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sv::extract {
namespace {

constexpr std::size_t kFlushAt = 1 << 20;  // write to the fd in ~1 MiB chunks
constexpr int kGzipLevel = Z_BEST_SPEED;
constexpr int kZstdLevel = 3;

Error errno_error(const std::string& what, const std::string& path, int err) {
  std::string message = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case EACCES:
    case EPERM:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:  // past the file system's or the process's (ulimit -f) file size limit
    case EROFS:
    case ENOENT:
    case ENOTDIR: return config_error(std::move(message));
    default: return system_error(std::move(message));
  }
}

}  // namespace

const char* to_string(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
  }
  return "none";
}

const char* file_suffix(Compression c) {
  switch (c) {
    case Compression::none: return "";
    case Compression::gzip: return ".gz";
    case Compression::zstd: return ".zst";
  }
  return "";
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return errno_error("cannot fsync directory", dir, err);
  return Ok{};
}

Result<int> open_output_file(const std::string& path, int extra_flags) {
  const auto not_regular = [&](std::string_view what) {
    return config_error(path + " is " + std::string(what) +
                        ", not a regular file: extract writes only regular files in its output "
                        "directory; remove it "
                        "or choose another --output-dir");
  };
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | extra_flags, 0644);
  if (fd < 0) {
    if (errno == ELOOP) return not_regular("a symbolic link");
    if (errno == ENXIO) return not_regular("a FIFO");  // O_NONBLOCK write open of a FIFO nobody reads
    return errno_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_error("cannot stat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return not_regular(S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
  }
  // Regular files ignore O_NONBLOCK; cleared anyway so the descriptor is an ordinary one.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<std::unique_ptr<FileSink>> FileSink::open(std::string path, Compression compression, std::uint64_t length) {
  auto opened = open_output_file(path);
  if (!opened) return opened.error();
  const int fd = *opened;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return errno_error("cannot stat", path, err);
  }
  if (static_cast<std::uint64_t>(st.st_size) < length) {
    ::close(fd);
    return config_error(path + " is shorter than its checkpoint (" + std::to_string(st.st_size) + " bytes, " +
                        std::to_string(length) + " recorded); delete " + parent_dir(path) + " to start over");
  }
  if ((static_cast<std::uint64_t>(st.st_size) != length && ::ftruncate(fd, static_cast<off_t>(length)) != 0) ||
      ::lseek(fd, static_cast<off_t>(length), SEEK_SET) < 0) {
    int err = errno;
    ::close(fd);
    return errno_error("cannot truncate", path, err);
  }
  std::unique_ptr<FileSink> sink(new FileSink(std::move(path), compression, fd, length));
  if (auto st2 = sink->init_codec(); !st2) return st2.error();
  return sink;
}

FileSink::FileSink(std::string path, Compression compression, int fd, std::uint64_t length)
    : path_(std::move(path)), compression_(compression), fd_(fd), checkpointed_(length), written_(length) {}

FileSink::~FileSink() { close(); }

Status FileSink::init_codec() {
  if (compression_ == Compression::gzip) {
    // windowBits 15 + 16: a gzip wrapper (header and CRC trailer) around each member.
    if (deflateInit2(&gz_, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return system_error("cannot initialize gzip for " + path_);
    }
    gz_ready_ = true;
  } else if (compression_ == Compression::zstd) {
    zstd_ = ZSTD_createCCtx();
    if (zstd_ == nullptr || ZSTD_isError(ZSTD_CCtx_setParameter(zstd_, ZSTD_c_compressionLevel, kZstdLevel)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(zstd_, ZSTD_c_checksumFlag, 1))) {
      return system_error("cannot initialize zstd for " + path_);
    }
  }
  return Ok{};
}

Status FileSink::io_error(const char* what, int err) const { return errno_error(what, path_, err); }

Status FileSink::compress(std::string_view in, bool end) {
  if (compression_ == Compression::none) {
    buffer_.append(in);
    return Ok{};
  }
  if (compression_ == Compression::gzip) {
    gz_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    gz_.avail_in = static_cast<uInt>(in.size());
    const int flush = end ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
      const std::size_t before = buffer_.size();
      const std::size_t room = deflateBound(&gz_, gz_.avail_in) + 64;
      buffer_.resize(before + room);
      gz_.next_out = reinterpret_cast<Bytef*>(buffer_.data() + before);
      gz_.avail_out = static_cast<uInt>(room);
      const int rc = deflate(&gz_, flush);
      buffer_.resize(before + room - gz_.avail_out);
      if (rc == Z_STREAM_END) {
        deflateReset(&gz_);  // the next write starts a new member
        return Ok{};
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) return system_error("gzip compression failed for " + path_);
      if (!end && gz_.avail_in == 0) return Ok{};
    }
  }
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  const ZSTD_EndDirective directive = end ? ZSTD_e_end : ZSTD_e_continue;
  for (;;) {
    const std::size_t before = buffer_.size();
    // Room for what this input can produce (zstd keeps any excess inside the context until the
    // next call) rather than a whole block per call: CDC writes are often a single row.
    const std::size_t room = end ? ZSTD_CStreamOutSize() : ZSTD_compressBound(in.size()) + 4096;
    buffer_.resize(before + room);
    ZSTD_outBuffer output{buffer_.data() + before, room, 0};
    const std::size_t remaining = ZSTD_compressStream2(zstd_, &output, &input, directive);
    buffer_.resize(before + output.pos);
    if (ZSTD_isError(remaining)) {
      return system_error("zstd compression failed for " + path_ + ": " + ZSTD_getErrorName(remaining));
    }
    if (end ? remaining == 0 : input.pos == input.size) return Ok{};
  }
}

Status FileSink::flush_buffer() {
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
  buffer_.clear();
  return Ok{};
}

Status FileSink::write(std::string_view bytes) {
  if (fd_ < 0) return system_error("write to closed file " + path_);
  if (bytes.empty()) return Ok{};
  dirty_ = true;
  if (auto st = compress(bytes, false); !st) return st;
  if (buffer_.size() >= kFlushAt) return flush_buffer();
  return Ok{};
}

Status FileSink::checkpoint() {
  if (fd_ < 0) return system_error("checkpoint of closed file " + path_);
  if (dirty_) {
    if (auto st = compress({}, true); !st) return st;
    dirty_ = false;
  }
  if (auto st = flush_buffer(); !st) return st;
  if (written_ != checkpointed_) {
    if (::fdatasync(fd_) != 0) return io_error("cannot sync", errno);
    checkpointed_ = written_;
  }
  return Ok{};
}

Status FileSink::rollback() {
  if (fd_ < 0) return system_error("rollback of closed file " + path_);
  buffer_.clear();
  dirty_ = false;
  if (gz_ready_) deflateReset(&gz_);
  if (zstd_ != nullptr) ZSTD_CCtx_reset(zstd_, ZSTD_reset_session_only);
  if (written_ != checkpointed_) {
    if (::ftruncate(fd_, static_cast<off_t>(checkpointed_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(checkpointed_), SEEK_SET) < 0) {
      return io_error("cannot truncate", errno);
    }
    written_ = checkpointed_;
  }
  return Ok{};
}

Status FileSink::seal() {
  if (fd_ < 0) return system_error("seal of closed file " + path_);
  // An empty compressed file is not a valid .gz/.zst: give it one empty member/frame.
  if (written_ == 0 && !dirty_ && compression_ != Compression::none) dirty_ = true;
  if (auto st = checkpoint(); !st) return st;
  if (::fsync(fd_) != 0) return io_error("cannot sync", errno);
  return Ok{};
}

Status FileSink::finish(const std::string& final_path) {
  if (auto st = seal(); !st) return st;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return io_error("cannot close", errno);
  if (::rename(path_.c_str(), final_path.c_str()) != 0) {
    return errno_error("cannot rename " + path_ + " to", final_path, errno);
  }
  return sync_directory(parent_dir(final_path));
}

void FileSink::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (gz_ready_) {
    deflateEnd(&gz_);
    gz_ready_ = false;
  }
  if (zstd_ != nullptr) {
    ZSTD_freeCCtx(zstd_);
    zstd_ = nullptr;
  }
  buffer_.clear();
}

}  // namespace sv::extract
