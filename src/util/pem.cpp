// src/util: PEM certificate checks (see pem.hpp).
#include "util/pem.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include <fmt/format.h>

namespace sv {
namespace {

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";

//! OpenSSL's reason for the oldest error in the thread's queue (the most specific one: a DER
//! decoding error comes before the "ASN1 lib" wrapper PEM adds), then clears the queue.
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "unknown error";
}

bool parses_as_certificate(std::string_view block, std::string& reason) {
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(block.data(), static_cast<int>(block.size()));
  if (bio == nullptr) {
    reason = "out of memory";
    return false;
  }
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) {
    reason = openssl_reason();
    return false;
  }
  X509_free(cert);
  return true;
}

}  // namespace

Status check_pem_certificates(std::string_view pem) {
  std::vector<std::size_t> begins;
  for (auto at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + kBegin.size())) {
    begins.push_back(at);
  }
  if (begins.empty()) return config_error("no '-----BEGIN CERTIFICATE-----' line");
  const std::size_t n = begins.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t next = i + 1 < n ? begins[i + 1] : pem.size();
    const std::size_t end = pem.find(kEnd, begins[i]);
    if (end == std::string_view::npos || end > next) {
      return config_error(fmt::format("certificate {} of {} has no '-----END CERTIFICATE-----' line", i + 1, n));
    }
    std::string reason;
    if (!parses_as_certificate(pem.substr(begins[i], end + kEnd.size() - begins[i]), reason)) {
      return config_error(fmt::format("certificate {} of {} does not parse ({})", i + 1, n, reason));
    }
  }
  return Ok{};
}

}  // namespace sv
