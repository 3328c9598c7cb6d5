#include "joulie/policy/selector.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace joulie::policy {
namespace {

constexpr std::size_t kMaxNameLength = 63;
constexpr std::size_t kMaxPrefixLength = 253;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The name part of a qualified name, and label values: [A-Za-z0-9._-], alphanumeric at both ends.
std::string name_problem(std::string_view s, std::string_view what) {
  if (s.size() > kMaxNameLength) {
    return fmt::format("{} must be at most {} characters", what, kMaxNameLength);
  }
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') {
      return fmt::format("{} may only contain letters, digits, '-', '_' and '.'", what);
    }
  }
  if (!s.empty() && (!is_alnum(s.front()) || !is_alnum(s.back()))) {
    return fmt::format("{} must begin and end with a letter or digit", what);
  }
  return {};
}

// DNS-1123 subdomain: lower-case labels of [a-z0-9-] separated by dots.
std::string prefix_problem(std::string_view s) {
  if (s.empty()) {
    return "prefix must not be empty";
  }
  if (s.size() > kMaxPrefixLength) {
    return fmt::format("prefix must be at most {} characters", kMaxPrefixLength);
  }
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto dot = s.find('.', start);
    const auto label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) {
      return "prefix must be a DNS subdomain (lower-case alphanumeric parts separated by '.')";
    }
    for (char c : label) {
      if (!is_lower_alnum(c) && c != '-') {
        return "prefix must be a DNS subdomain (lower-case alphanumeric parts separated by '.')";
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return {};
}

// ---- lexer
// ---------------------------------------------------------------------------------------

enum class Tok { end, identifier, comma, eq, eqeq, neq, bang, lparen, rparen, in, notin, gt, lt };

struct Token {
  Tok kind = Tok::end;
  std::string_view text;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_special(char c) {
  return c == ',' || c == '=' || c == '!' || c == '(' || c == ')' || c == '<' || c == '>';
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    while (pos_ < text_.size() && is_space(text_[pos_])) {
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      return {Tok::end, {}};
    }
    const std::size_t start = pos_;
    const char c = text_[pos_];
    auto two = [&](char second) { return pos_ + 1 < text_.size() && text_[pos_ + 1] == second; };
    auto take = [&](Tok kind, std::size_t n) {
      pos_ += n;
      return Token{kind, text_.substr(start, n)};
    };
    switch (c) {
      case ',':
        return take(Tok::comma, 1);
      case '(':
        return take(Tok::lparen, 1);
      case ')':
        return take(Tok::rparen, 1);
      case '<':
        return take(Tok::lt, 1);
      case '>':
        return take(Tok::gt, 1);
      case '=':
        return two('=') ? take(Tok::eqeq, 2) : take(Tok::eq, 1);
      case '!':
        return two('=') ? take(Tok::neq, 2) : take(Tok::bang, 1);
      default:
        break;
    }
    while (pos_ < text_.size() && !is_space(text_[pos_]) && !is_special(text_[pos_])) {
      ++pos_;
    }
    const auto word = text_.substr(start, pos_ - start);
    if (word == "in") {
      return {Tok::in, word};
    }
    if (word == "notin") {
      return {Tok::notin, word};
    }
    return {Tok::identifier, word};
  }

  Token peek() {
    const std::size_t saved = pos_;
    Token t = next();
    pos_ = saved;
    return t;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---- parser
// --------------------------------------------------------------------------------------

bool is_word(const Token& t) {
  // "in"/"notin" are keywords only where an operator is expected; as keys or values they are
  // ordinary words.
  return t.kind == Tok::identifier || t.kind == Tok::in || t.kind == Tok::notin;
}

std::string describe(const Token& t) {
  return t.kind == Tok::end ? std::string("end of input") : fmt::format("\"{}\"", t.text);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) {}

  Result<Selector> parse() {
    std::vector<Requirement> requirements;
    if (lexer_.peek().kind == Tok::end) {
      return Selector{};
    }
    while (true) {
      auto req = requirement();
      if (!req.ok()) {
        return std::move(req).error();
      }
      requirements.push_back(std::move(*req));
      const Token sep = lexer_.next();
      if (sep.kind == Tok::end) {
        break;
      }
      if (sep.kind != Tok::comma) {
        return fail(fmt::format("expected ',' or end of input, found {}", describe(sep)));
      }
    }
    return Selector(std::move(requirements));
  }

 private:
  Error fail(std::string_view why) const {
    return Error(Errc::invalid_argument,
                 fmt::format("invalid label selector \"{}\": {}", text_, why));
  }

  Result<std::string> key(const Token& t) const {
    if (!is_word(t)) {
      return fail(fmt::format("expected a label key, found {}", describe(t)));
    }
    if (auto problem = label_key_problem(t.text); !problem.empty()) {
      return fail(fmt::format("key \"{}\": {}", t.text, problem));
    }
    return std::string(t.text);
  }

  Result<std::string> value(const Token& t) const {
    if (auto problem = label_value_problem(t.text); !problem.empty()) {
      return fail(fmt::format("value \"{}\": {}", t.text, problem));
    }
    return std::string(t.text);
  }

  Result<Requirement> requirement() {
    Requirement req;
    Token t = lexer_.next();
    if (t.kind == Tok::bang) {
      auto k = key(lexer_.next());
      if (!k.ok()) {
        return std::move(k).error();
      }
      req.key = std::move(*k);
      req.op = SelectorOp::does_not_exist;
      return req;
    }
    auto k = key(t);
    if (!k.ok()) {
      return std::move(k).error();
    }
    req.key = std::move(*k);

    const Token op = lexer_.peek();
    switch (op.kind) {
      case Tok::end:
      case Tok::comma:
        req.op = SelectorOp::exists;
        return req;
      case Tok::eq:
      case Tok::eqeq:
      case Tok::neq: {
        lexer_.next();
        req.op = op.kind == Tok::neq ? SelectorOp::not_equals : SelectorOp::equals;
        const Token v = lexer_.peek();
        if (v.kind == Tok::end || v.kind == Tok::comma) {
          req.values.emplace_back();  // `k=` selects the empty value, as in Kubernetes
          return req;
        }
        if (!is_word(v)) {
          return fail(fmt::format("expected a value after \"{}{}\", found {}", req.key, op.text,
                                  describe(v)));
        }
        lexer_.next();
        auto val = value(v);
        if (!val.ok()) {
          return std::move(val).error();
        }
        req.values.push_back(std::move(*val));
        return req;
      }
      case Tok::in:
      case Tok::notin:
        lexer_.next();
        req.op = op.kind == Tok::in ? SelectorOp::in : SelectorOp::not_in;
        if (auto status = value_list(req); !status.ok()) {
          return status.error();
        }
        return req;
      case Tok::gt:
      case Tok::lt:
        return fail(fmt::format("operator \"{}\" after \"{}\" is not supported", op.text, req.key));
      default:
        return fail(
            fmt::format("expected an operator (=, ==, !=, in, notin) after \"{}\", found {}",
                        req.key, describe(op)));
    }
  }

  Status value_list(Requirement& req) {
    const Token open = lexer_.next();
    if (open.kind != Tok::lparen) {
      return fail(fmt::format("expected '(' after \"{} {}\", found {}", req.key,
                              req.op == SelectorOp::in ? "in" : "notin", describe(open)));
    }
    while (true) {
      const Token v = lexer_.next();
      if (!is_word(v)) {
        return fail(
            fmt::format("expected a value in the list for \"{}\", found {}", req.key, describe(v)));
      }
      auto val = value(v);
      if (!val.ok()) {
        return std::move(val).error();
      }
      req.values.push_back(std::move(*val));
      const Token sep = lexer_.next();
      if (sep.kind == Tok::rparen) {
        break;
      }
      if (sep.kind != Tok::comma) {
        return fail(fmt::format("expected ',' or ')' in the list for \"{}\", found {}", req.key,
                                describe(sep)));
      }
    }
    std::sort(req.values.begin(), req.values.end());
    req.values.erase(std::unique(req.values.begin(), req.values.end()), req.values.end());
    return Status::success();
  }

  std::string_view text_;
  Lexer lexer_;
};

bool contains(const std::vector<std::string>& sorted, std::string_view v) {
  return std::binary_search(sorted.begin(), sorted.end(), v, std::less<>{});
}

}  // namespace

std::string label_key_problem(std::string_view key) {
  if (key.empty()) {
    return "key must not be empty";
  }
  const auto slash = key.find('/');
  std::string_view name = key;
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      return "key may contain at most one '/'";
    }
    if (auto problem = prefix_problem(key.substr(0, slash)); !problem.empty()) {
      return problem;
    }
    name = key.substr(slash + 1);
  }
  if (name.empty()) {
    return "name part must not be empty";
  }
  return name_problem(name, "name part");
}

std::string label_value_problem(std::string_view value) { return name_problem(value, "value"); }

Selector::Selector(std::vector<Requirement> requirements) : requirements_(std::move(requirements)) {
  std::stable_sort(requirements_.begin(), requirements_.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
}

bool Selector::matches(const LabelLookup& lookup) const {
  for (const auto& req : requirements_) {
    const auto value = lookup(req.key);
    bool ok = false;
    switch (req.op) {
      case SelectorOp::equals:
      case SelectorOp::in:
        ok = value.has_value() && contains(req.values, *value);
        break;
      case SelectorOp::not_equals:
      case SelectorOp::not_in:
        ok = !value.has_value() || !contains(req.values, *value);
        break;
      case SelectorOp::exists:
        ok = value.has_value();
        break;
      case SelectorOp::does_not_exist:
        ok = !value.has_value();
        break;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool Selector::matches(const Labels& labels) const {
  return matches([&labels](std::string_view key) -> std::optional<std::string_view> {
    const auto it = labels.find(key);
    if (it == labels.end()) {
      return std::nullopt;
    }
    return std::string_view(it->second);
  });
}

std::string Selector::to_string() const {
  std::string out;
  for (const auto& req : requirements_) {
    if (!out.empty()) {
      out += ',';
    }
    switch (req.op) {
      case SelectorOp::equals:
        out += fmt::format("{}={}", req.key, req.values.empty() ? "" : req.values.front());
        break;
      case SelectorOp::not_equals:
        out += fmt::format("{}!={}", req.key, req.values.empty() ? "" : req.values.front());
        break;
      case SelectorOp::in:
        out += fmt::format("{} in ({})", req.key, fmt::join(req.values, ","));
        break;
      case SelectorOp::not_in:
        out += fmt::format("{} notin ({})", req.key, fmt::join(req.values, ","));
        break;
      case SelectorOp::exists:
        out += req.key;
        break;
      case SelectorOp::does_not_exist:
        out += fmt::format("!{}", req.key);
        break;
    }
  }
  return out;
}

Result<Selector> parse_selector(std::string_view text) { return Parser(text).parse(); }

}  // namespace joulie::policy
