// Kubeconfig loader on arbitrary YAML, through the public load_kubeconfig() on files in a private
// temporary directory. The input may hold two files separated by a line "#---next-file" (merged
// like KUBECONFIG=a:b).
//
// Safety: load_kubeconfig() only reads an exec plugin's settings; running it is the credential
// source's job (src/kube/credentials.cpp), which this target never calls. As a guard, this
// program replaces posix_spawn/posix_spawnp/execve/execvp with versions that abort. The
// loader also reads the files named by certificate-authority / client-certificate / client-key:
// inputs naming anything other than a plain file name (no '/', no "..") are skipped, and the
// plain names resolve inside the temporary directory, so fuzz input never reads host files or
// blocks on a FIFO or device.
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz_support.hpp"
#include "joulie/kube/config.hpp"

extern "C" {
int posix_spawn(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                char* const[], char* const[]) {
  std::fputs("kubeconfig fuzz target: posix_spawn called\n", stderr);
  std::abort();
}
int posix_spawnp(pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
                 char* const[], char* const[]) {
  std::fputs("kubeconfig fuzz target: posix_spawnp called\n", stderr);
  std::abort();
}
int execve(const char*, char* const[], char* const[]) noexcept {
  std::fputs("kubeconfig fuzz target: execve called\n", stderr);
  std::abort();
}
int execvp(const char*, char* const[]) noexcept {
  std::fputs("kubeconfig fuzz target: execvp called\n", stderr);
  std::abort();
}
}

namespace {

constexpr std::string_view kFileSeparator = "\n#---next-file\n";

const std::string& temp_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/joulie-kubeconfig-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
    // Files a kubeconfig may name by plain relative name.
    for (const char* name : {"ca.crt", "client.crt", "client.key", "token"}) {
      std::ofstream(tmpl + "/" + name) << "-----BEGIN CERTIFICATE-----\nAA==\n"
                                          "-----END CERTIFICATE-----\n";
    }
    return tmpl;
  }();
  return dir;
}

bool safe_file_name(const std::string& name) {
  return name.find('/') == std::string::npos && name.find("..") == std::string::npos;
}

// True when every path-valued field the loader would open is a plain file name. Walks the
// document as yaml-cpp sees it, so quoting, escapes and aliases cannot hide a key. The loader
// reads paths at clusters[i].cluster.<key> / users[i].user.<key> (depth 4), so deeper levels
// need no walk; a document too wide to walk (alias bomb) counts as unsafe and is skipped.
bool paths_are_safe(const YAML::Node& node, int depth, size_t& budget) {
  if (depth > 6) {
    return true;
  }
  if (budget == 0) {
    return false;
  }
  --budget;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const std::string& key = kv.first.Scalar();
        if ((key == "certificate-authority" || key == "client-certificate" ||
             key == "client-key") &&
            kv.second.IsScalar() && !safe_file_name(kv.second.Scalar())) {
          return false;
        }
      }
      if (!paths_are_safe(kv.first, depth + 1, budget) ||
          !paths_are_safe(kv.second, depth + 1, budget)) {
        return false;
      }
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!paths_are_safe(item, depth + 1, budget)) {
        return false;
      }
    }
  }
  return true;
}

bool yaml_is_safe(const std::string& text) {
  try {
    size_t budget = 20000;
    return paths_are_safe(YAML::Load(text), 0, budget);
  } catch (...) {
    return true;  // the loader will fail on it as well, before opening anything
  }
}

void write_file(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find(kFileSeparator);
  const std::string first(input.substr(0, split));
  const std::string second(split == std::string_view::npos
                               ? std::string_view()
                               : input.substr(split + kFileSeparator.size()));
  if (!yaml_is_safe(first) || !yaml_is_safe(second)) {
    return 0;
  }
  const std::string& dir = temp_dir();
  write_file(dir + "/a", first);
  std::string paths = dir + "/a";
  if (split != std::string_view::npos) {
    write_file(dir + "/b", second);
    paths += ":" + dir + "/b:" + dir + "/missing";
  }

  auto config = joulie::kube::load_kubeconfig(paths, "");
  if (!config.ok()) {
    FUZZ_CHECK(config.code() != joulie::Errc::ok);
    FUZZ_CHECK(!config.error().message.empty());
    return 0;
  }
  const auto& c = config.value();
  FUZZ_CHECK(c.server.rfind("https://", 0) == 0 || c.server.rfind("http://", 0) == 0);
  FUZZ_CHECK(c.server.back() != '/');
  FUZZ_CHECK(c.client_cert_pem.empty() == c.client_key_pem.empty());
  FUZZ_CHECK(!c.default_namespace.empty());
  if (c.exec) {
    FUZZ_CHECK(!c.exec->command.empty());
    FUZZ_CHECK(c.exec->api_version == "client.authentication.k8s.io/v1" ||
               c.exec->api_version == "client.authentication.k8s.io/v1beta1");
  }
  return 0;
}
