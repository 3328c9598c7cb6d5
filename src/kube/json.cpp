#include "joulie/kube/json.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace joulie::kube {

namespace {

// The value of one JSON number token. RapidJSON 1.1.0 (Debian 12) converts numbers itself, and its
// full-precision path reaches undefined behaviour (clz(0) in DiyFp::Normalize, e.g. for `0e308`);
// its normal-precision path is defined but up to a few ULP off, which breaks the "what we write
// parses back to the same text" promise for numbers like 18446744073709551616. So the reader hands
// us the token text (kParseNumbersAsStringsFlag, which never reaches its Strtod code) and the
// conversion is done here: integers exactly, everything else by std::from_chars, which rounds
// correctly (docs/decisions.md, "JSON numbers").
// Returns false for a number outside the range of double (|x| > DBL_MAX after rounding).
template <typename Handler>
bool number_event(std::string_view token, Handler& out) {
  // RapidJSON has checked the grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  const char* first = token.data();
  const char* last = token.data() + token.size();
  const bool minus = !token.empty() && token.front() == '-';
  if (token.find_first_of(".eE") == std::string_view::npos) {
    if (minus) {
      std::int64_t i = 0;
      if (std::from_chars(first, last, i).ec == std::errc()) {
        // "-0" is the integer 0, as in RapidJSON (only "-0.0" and the like are -0.0).
        return i >= INT_MIN ? out.Int(static_cast<int>(i)) : out.Int64(i);
      }
    } else {
      std::uint64_t u = 0;
      if (std::from_chars(first, last, u).ec == std::errc()) {
        return u <= UINT_MAX ? out.Uint(static_cast<unsigned>(u)) : out.Uint64(u);
      }
    }
    // An integer beyond 64 bits: a double, as RapidJSON does.
  }
  double d = 0.0;
  const auto [end, ec] = std::from_chars(first, last, d);
  if (ec == std::errc() && end == last) {
    return out.Double(d);
  }
  if (ec != std::errc::result_out_of_range || end != last) {
    return false;  // cannot happen after RapidJSON's grammar check; refuse rather than guess
  }
  // Out of range: too large (an error), or so small it rounds to zero (then ±0.0, like strtod).
  // Which one: the decimal exponent of the leading significant digit.
  std::int64_t exponent = 0;
  std::int64_t int_digits = 0;
  std::int64_t leading_zeros = 0;
  bool seen_nonzero = false;
  bool in_fraction = false;
  const char* p = minus ? first + 1 : first;
  for (; p != last && *p != 'e' && *p != 'E'; ++p) {
    if (*p == '.') {
      in_fraction = true;
    } else {
      if (!in_fraction) {
        ++int_digits;
      }
      if (*p != '0') {
        seen_nonzero = true;
      } else if (!seen_nonzero) {
        ++leading_zeros;
      }
    }
  }
  if (p != last) {
    ++p;
    const bool exp_minus = *p == '-';
    if (*p == '-' || *p == '+') {
      ++p;
    }
    for (; p != last; ++p) {
      exponent = std::min<std::int64_t>(exponent * 10 + (*p - '0'), std::int64_t{1} << 40);
    }
    if (exp_minus) {
      exponent = -exponent;
    }
  }
  if (seen_nonzero && exponent + int_digits - leading_zeros > 0) {
    return false;  // |x| >= 1 and out of range: overflow
  }
  return out.Double(minus ? -0.0 : 0.0);
}

// True when some object in `v` has two members of the same name. Such a body is ambiguous:
// lookups here take the first, a JSON merge patch (and Go's decoder) the last, so what Joulie
// decided on and what it writes back could disagree. `names` is scratch space, reused.
// Recursion is bounded by parse_object's depth limit.
bool has_duplicate_key(const rapidjson::Value& v, std::vector<std::string_view>& names) {
  if (v.IsObject()) {
    if (v.MemberCount() > 1) {
      names.clear();
      for (const auto& m : v.GetObject()) {
        names.emplace_back(m.name.GetString(), m.name.GetStringLength());
      }
      std::sort(names.begin(), names.end());
      if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
        return true;
      }
    }
    for (const auto& m : v.GetObject()) {
      if ((m.value.IsObject() || m.value.IsArray()) && has_duplicate_key(m.value, names)) {
        return true;
      }
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if ((e.IsObject() || e.IsArray()) && has_duplicate_key(e, names)) {
        return true;
      }
    }
  }
  return false;
}

// Forwards SAX events to the document while counting depth. RapidJSON's reader recurses per
// nesting level, so refusing StartObject/StartArray past the limit also bounds stack use.
class DepthLimiter {
 public:
  DepthLimiter(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  // Every number arrives here (kParseNumbersAsStringsFlag); the document gets its value.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (!number_event(std::string_view(s, n), doc_)) {
      number_out_of_range_ = true;
      return false;
    }
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

  bool too_deep() const { return too_deep_; }
  bool number_out_of_range() const { return number_out_of_range_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool number_out_of_range_ = false;
};

}  // namespace

Result<rapidjson::Document> parse_object(std::string_view text, int max_depth) {
  rapidjson::Document doc;
  rapidjson::ParseResult parse_result;
  bool too_deep = false;
  bool number_out_of_range = false;
  auto generator = [&](rapidjson::Document& handler) {
    DepthLimiter limiter(handler, max_depth);
    rapidjson::MemoryStream stream(text.data(), text.size());
    rapidjson::Reader reader;
    parse_result = reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(stream, limiter);
    too_deep = limiter.too_deep();
    number_out_of_range = limiter.number_out_of_range();
    return !parse_result.IsError();
  };
  doc.Populate(generator);
  if (too_deep) {
    return Error(Errc::parse, fmt::format("JSON nested deeper than {} levels", max_depth));
  }
  if (number_out_of_range) {
    return Error(Errc::parse,
                 fmt::format("JSON number out of range before byte {}", parse_result.Offset()));
  }
  if (parse_result.IsError()) {
    return Error(Errc::parse, fmt::format("malformed JSON at byte {}: {}", parse_result.Offset(),
                                          rapidjson::GetParseError_En(parse_result.Code())));
  }
  if (!doc.IsObject()) {
    return Error(Errc::parse, "JSON body is not an object");
  }
  std::vector<std::string_view> names;
  if (has_duplicate_key(doc, names)) {
    return Error(Errc::parse, "JSON object with a duplicate key");
  }
  return doc;
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace joulie::kube
