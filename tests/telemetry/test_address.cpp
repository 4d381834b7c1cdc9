// tests/telemetry: --metrics-address parsing.
#include <doctest/doctest.h>

#include "telemetry/metrics_server.hpp"

using namespace sv;
namespace ip = boost::asio::ip;

namespace {

telemetry::ListenAddress parsed(std::string_view text) {
  auto r = telemetry::parse_listen_address(text);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return *r;
}

std::string error_of(std::string_view text) {
  auto r = telemetry::parse_listen_address(text);
  REQUIRE(!r.ok());
  CHECK(r.error().type == FailureType::config_error);
  return r.error().message;
}

}  // namespace

TEST_CASE("parse_listen_address accepts IPv4, localhost and bracketed IPv6") {
  CHECK(parsed("127.0.0.1:9100") == telemetry::ListenAddress{ip::make_address("127.0.0.1"), 9100});
  CHECK(parsed("localhost:0") == telemetry::ListenAddress{ip::make_address("127.0.0.1"), 0});
  CHECK(parsed("0.0.0.0:65535") == telemetry::ListenAddress{ip::make_address("0.0.0.0"), 65535});
  CHECK(parsed("[::1]:9100") == telemetry::ListenAddress{ip::make_address("::1"), 9100});
  CHECK(parsed("[::]:80") == telemetry::ListenAddress{ip::make_address("::"), 80});
  CHECK(parsed("10.1.2.3:00080").port == 80);
}

TEST_CASE("parse_listen_address refuses other input with a message saying what is wrong") {
  const std::string shape = "expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100";
  const std::string port = "the port must be a number from 0 to 65535 (0 picks a free port)";
  CHECK(error_of("") == "invalid metrics address '': " + shape);
  CHECK(error_of("9100") == "invalid metrics address '9100': " + shape);
  CHECK(error_of("[::1]9100") == "invalid metrics address '[::1]9100': " + shape);
  CHECK(error_of("[::1:9100") == "invalid metrics address '[::1:9100': missing ']' after the IPv6 address");
  CHECK(error_of("::1:9100") ==
        "invalid metrics address '::1:9100': write an IPv6 address in brackets, e.g. [::1]:9100");
  CHECK(error_of("127.0.0.1:") == "invalid metrics address '127.0.0.1:': " + port);
  CHECK(error_of("127.0.0.1:65536") == "invalid metrics address '127.0.0.1:65536': " + port);
  CHECK(error_of("127.0.0.1:-1") == "invalid metrics address '127.0.0.1:-1': " + port);
  CHECK(error_of("127.0.0.1:12a") == "invalid metrics address '127.0.0.1:12a': " + port);
  CHECK(error_of("127.0.0.1:000009100") == "invalid metrics address '127.0.0.1:000009100': " + port);
  CHECK(error_of(":9100") ==
        "invalid metrics address ':9100': the host is missing (127.0.0.1 serves this machine only)");
  CHECK(error_of("[]:9100") ==
        "invalid metrics address '[]:9100': the host is missing (127.0.0.1 serves this machine only)");
  CHECK(error_of("[127.0.0.1]:9100") ==
        "invalid metrics address '[127.0.0.1]:9100': the part in brackets is not an IPv6 address");
  const std::string names = "the host must be an IPv4 address, localhost or [IPv6] (host names are not resolved)";
  CHECK(error_of("example.com:9100") == "invalid metrics address 'example.com:9100': " + names);
  CHECK(error_of("256.1.1.1:80") == "invalid metrics address '256.1.1.1:80': " + names);
  CHECK(error_of("1.2.3:80") == "invalid metrics address '1.2.3:80': " + names);
}
