// src/util: read_whole_file (see file.hpp).
#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sv {

FileText read_whole_file(const std::string& path) {
  FileText out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = errno;
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    out.error = EISDIR;
    return out;
  }
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      out.error = errno;
      out.text.clear();
      break;
    }
    if (n == 0) break;
    out.text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace sv
