// src/util: reading a whole file with plain POSIX I/O (EINTR-safe), for the inputs the connector
// and the extract read (config/catalog/state files, DIR/_state.json). Callers turn the errno into
// their own message.
#pragma once

#include <cstddef>
#include <string>

namespace sv {

struct FileText {
  std::string text;
  //! errno of the failed open/read (EISDIR for a directory, ELOOP for a symbolic link when only
  //! regular files are accepted); EFBIG when the file is larger than the cap; 0 = `text` is the
  //! file.
  int error = 0;
  bool too_large = false;    //!< more than max_bytes: reading stopped there (error is EFBIG)
  bool not_regular = false;  //!< regular_only and the path is a FIFO, device, socket or link
};

struct ReadLimits {
  //! Reading stops with `too_large` past this many bytes: `--config /dev/zero` or a FIFO that
  //! never ends must not grow memory until the process is killed.
  std::size_t max_bytes;
  //! Refuse anything but a regular file, without following a symbolic link at the path (O_NOFOLLOW)
  //! and without blocking on a FIFO (O_NONBLOCK): for files the program itself wrote.
  bool regular_only = false;
};

FileText read_whole_file(const std::string& path, const ReadLimits& limits);

}  // namespace sv
