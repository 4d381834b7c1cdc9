// src/util: reading a whole file with plain POSIX I/O (EINTR-safe), for the inputs the connector
// and the extract read (config/catalog/state files, DIR/_state.json). Callers turn the errno into
// their own message.
#pragma once

#include <string>

namespace sv {

struct FileText {
  std::string text;
  int error = 0;  //!< errno of the failed open/read (EISDIR for a directory); 0 = `text` is the file
};

FileText read_whole_file(const std::string& path);

}  // namespace sv
