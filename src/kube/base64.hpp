#pragma once
// Strict standard base64 (RFC 4648 §4) for kubeconfig *-data fields. Whitespace is ignored;
// anything else outside the alphabet, or bad padding, is an error.

#include <optional>
#include <string>
#include <string_view>

namespace joulie::kube {

std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace joulie::kube
