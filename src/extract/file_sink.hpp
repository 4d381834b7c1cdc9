// src/extract: one append-only output file (`X.part` while written), plain, gzip or zstd. Data is
// compressed in memory and written in large chunks; checkpoint() ends the current gzip member /
// zstd frame and makes everything so far durable, so the file is valid up to every checkpointed
// length and a resume truncates to one and appends a new member/frame.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace sv::extract {

enum class Compression { none, gzip, zstd };
const char* to_string(Compression c);
//! ".gz", ".zst" or "".
const char* file_suffix(Compression c);

class FileSink {
 public:
  //! Opens (creating it if needed) `path` for appending at byte `length`: a longer file is
  //! truncated to it; a shorter one is a config_error ("<path> is shorter than its checkpoint;
  //! delete <dir> to start over"). I/O errors name the path.
  static Result<std::unique_ptr<FileSink>> open(std::string path, Compression compression, std::uint64_t length);

  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  //! Appends (uncompressed) bytes; they reach the file in chunks, all of them by checkpoint().
  Status write(std::string_view bytes);
  //! Ends the current gzip member / zstd frame (if anything was written since the last
  //! checkpoint), writes all buffered bytes and fdatasync()s. The next write starts a new one.
  Status checkpoint();
  //! Drops everything written since the last checkpoint (the file is truncated back to it).
  Status rollback();
  //! The last checkpoint before finish(): an empty compressed file gets one empty member/frame
  //! (so it is a valid .gz/.zst), then checkpoint() and fsync. checkpointed_bytes() is final.
  Status seal();
  //! seal(), close, rename to `final_path`, fsync the directory.
  Status finish(const std::string& final_path);
  //! Closes without writing anything more (the file keeps its last checkpoint and maybe more).
  void close();

  //! File length at the last checkpoint (what _state.json records).
  std::uint64_t checkpointed_bytes() const { return checkpointed_; }
  //! Bytes handed to the file so far (≥ checkpointed_bytes()).
  std::uint64_t written_bytes() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  FileSink(std::string path, Compression compression, int fd, std::uint64_t length);
  Status init_codec();
  Status compress(std::string_view in, bool end);
  Status flush_buffer();
  Status io_error(const char* what, int err) const;

  std::string path_;
  Compression compression_;
  int fd_ = -1;
  std::uint64_t checkpointed_ = 0;
  std::uint64_t written_ = 0;
  bool dirty_ = false;  //!< bytes written since the last checkpoint (a member/frame is open)
  std::string buffer_;  //!< compressed (or plain) bytes not yet written to fd_
  z_stream gz_{};
  bool gz_ready_ = false;
  ZSTD_CCtx* zstd_ = nullptr;
};

//! Opens (creating it if needed) a file the extract writes in its output directory, O_WRONLY plus
//! `extra_flags` (e.g. O_TRUNC). Refuses a symbolic link at `path` (O_NOFOLLOW: a link would make
//! the extract write, and later rename, a file outside the directory) and anything but a regular
//! file (a FIFO is opened with O_NONBLOCK so it cannot hang the open): config_error naming the
//! path.
Result<int> open_output_file(const std::string& path, int extra_flags = 0);
//! fsync of a directory (after a rename or create inside it).
Status sync_directory(const std::string& dir);
//! The directory part of a path ("." when it has none).
std::string parent_dir(const std::string& path);

}  // namespace sv::extract
