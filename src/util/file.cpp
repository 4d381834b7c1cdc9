// src/util: read_whole_file (see file.hpp).
#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sv {
namespace {

FileText failed(int error) {
  FileText out;
  out.error = error;
  return out;
}

}  // namespace

FileText read_whole_file(const std::string& path, const ReadLimits& limits) {
  const int flags = O_RDONLY | O_CLOEXEC | (limits.regular_only ? O_NOFOLLOW | O_NONBLOCK : 0);
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    FileText out = failed(errno);
    // O_NOFOLLOW answers ELOOP for a link at the path itself.
    out.not_regular = limits.regular_only && out.error == ELOOP;
    return out;
  }
  struct stat st {};
  const bool have_stat = ::fstat(fd, &st) == 0;
  if (have_stat && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return failed(EISDIR);
  }
  if (limits.regular_only && (!have_stat || !S_ISREG(st.st_mode))) {
    ::close(fd);
    FileText out = failed(EINVAL);
    out.not_regular = true;
    return out;
  }
  // A regular file's size is known up front; anything else (a pipe, /dev/zero) is counted as read.
  const bool over = have_stat && S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) > limits.max_bytes;
  FileText out;
  char chunk[64 * 1024];
  while (!over) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      out.error = errno;
      out.text.clear();
      break;
    }
    if (n == 0) break;
    if (out.text.size() + static_cast<std::size_t>(n) > limits.max_bytes) {
      out.text.clear();
      out.text.shrink_to_fit();
      out.too_large = true;
      break;
    }
    out.text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (over || out.too_large) {
    out.too_large = true;
    out.error = EFBIG;
  }
  return out;
}

}  // namespace sv
