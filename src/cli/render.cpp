#include "render.hpp"

#include <fmt/format.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace joulie::cli {

std::string human_duration(std::chrono::seconds d) {
  const auto s = std::max<std::int64_t>(0, d.count());
  const std::int64_t m = s / 60;
  const std::int64_t h = s / 3600;
  const std::int64_t days = s / 86400;
  if (s < 120) return fmt::format("{}s", s);
  if (m < 10) return s % 60 == 0 ? fmt::format("{}m", m) : fmt::format("{}m{}s", m, s % 60);
  if (m < 180) return fmt::format("{}m", m);
  if (h < 8) return m % 60 == 0 ? fmt::format("{}h", h) : fmt::format("{}h{}m", h, m % 60);
  if (h < 48) return fmt::format("{}h", h);
  if (days < 8) return h % 24 == 0 ? fmt::format("{}d", days) : fmt::format("{}d{}h", days, h % 24);
  return fmt::format("{}d", days);
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(width[i] - row[i].size() + 3, ' ');
      }
    }
    out += line + "\n";
  }
  return out;
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

namespace {

bool plain_scalar(const std::string& s) {
  if (s.empty() || s == "true" || s == "false" || s == "null" || s == "~" || s == "yes" ||
      s == "no" || s == "on" || s == "off") {
    return false;
  }
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.' || s[0] == '+') {
    return false;  // could read as a number
  }
  for (char c : s) {
    if (c == ':' || c == '#' || c == '"' || c == '\'' || c == '\n' || c == '[' || c == ']' ||
        c == '{' || c == '}' || c == ',' || c == '&' || c == '*' || c == '!' || c == '|' ||
        c == '>' || c == '%' || c == '@' || c == '`' || c == '\\') {
      return false;
    }
  }
  return s.front() != ' ' && s.back() != ' ';
}

std::string scalar(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return fmt::format("{}", v.GetInt64());
  if (v.IsUint64()) return fmt::format("{}", v.GetUint64());
  if (v.IsNumber()) return fmt::format("{}", v.GetDouble());
  std::string s(v.GetString(), v.GetStringLength());
  if (plain_scalar(s)) return s;
  rapidjson::StringBuffer buffer;  // a JSON string is a valid YAML double-quoted scalar
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool empty_container(const rapidjson::Value& v) {
  return (v.IsObject() && v.MemberCount() == 0) || (v.IsArray() && v.Empty());
}

void yaml(const rapidjson::Value& v, int indent, std::string& out);

void yaml_entry(const rapidjson::Value& v, int indent, std::string& out) {
  if ((v.IsObject() || v.IsArray()) && !empty_container(v)) {
    out += "\n";
    yaml(v, indent, out);
  } else if (v.IsObject()) {
    out += " {}\n";
  } else if (v.IsArray()) {
    out += " []\n";
  } else {
    out += ' ';
    out += scalar(v);
    out += '\n';
  }
}

void yaml(const rapidjson::Value& v, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      out += pad;
      out += scalar(it->name);
      out += ':';
      yaml_entry(it->value, indent + 2, out);
    }
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      out += pad + "-";
      if (item.IsObject() && !empty_container(item)) {
        // "- key: value" with the other keys aligned under the first.
        std::string nested;
        yaml(item, indent + 2, nested);
        out += ' ';
        out.append(nested, static_cast<std::size_t>(indent + 2));
      } else {
        yaml_entry(item, indent + 2, out);
      }
    }
  } else {
    out += pad;
    out += scalar(v);
    out += '\n';
  }
}

}  // namespace

std::string to_yaml(const rapidjson::Value& value) {
  std::string out;
  yaml(value, 0, out);
  return out;
}

std::string watts_text(const std::optional<double>& w) {
  if (!w) return "-";
  if (*w == std::floor(*w) && std::fabs(*w) < 1e12)
    return fmt::format("{}W", static_cast<std::int64_t>(*w));
  return fmt::format("{:.1f}W", *w);
}

}  // namespace joulie::cli
