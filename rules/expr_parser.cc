// Lexer, parser and type checker of the rule language. Every error carries the byte offset of
// the token it is about, so the config loader can point at the file's line and column.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <utility>

#include "rules/expr.h"
#include "rules/expr_node.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

enum class Tok {
  kNumber,
  kDuration,
  kIdent,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kCompare,
  kEnd,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t begin = 0;
  std::size_t end = 0;
  double value = 0;  // kNumber; kDuration in milliseconds
  CompareOp op = CompareOp::kEq;
};

ExprError ErrorAt(std::size_t offset, std::string message) {
  return ExprError{offset, std::move(message)};
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// The tokens of `s`, ending with kEnd at s.size().
tl::expected<std::vector<Token>, ExprError> Lex(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  const std::size_t n = s.size();
  const auto single = [&](Tok kind, std::size_t len) {
    out.push_back(Token{kind, i, i + len, 0, CompareOp::kEq});
    i += len;
  };
  const auto compare = [&](CompareOp op, std::size_t len) {
    out.push_back(Token{Tok::kCompare, i, i + len, 0, op});
    i += len;
  };
  while (i < n) {
    const char c = s[i];
    const char next = i + 1 < n ? s[i + 1] : '\0';
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (IsDigit(c)) {
      const std::size_t start = i;
      while (i < n && IsDigit(s[i])) ++i;
      bool fraction = false;
      if (i < n && s[i] == '.') {
        if (i + 1 >= n || !IsDigit(s[i + 1])) {
          return tl::unexpected(ErrorAt(i, "expected a digit after '.'"));
        }
        fraction = true;
        ++i;
        while (i < n && IsDigit(s[i])) ++i;
      }
      if (i < n && IsIdentStart(s[i])) {
        while (i < n && IsIdentChar(s[i])) ++i;
        const std::string_view text = s.substr(start, i - start);
        if (fraction) {
          return tl::unexpected(ErrorAt(
              start,
              "a duration is a whole number of each unit (such as 1500ms or 1m30s); found '" +
                  std::string(text) + "'"));
        }
        auto d = ParseDuration(text);
        if (!d) return tl::unexpected(ErrorAt(start, d.error().message));
        out.push_back(
            Token{Tok::kDuration, start, i, static_cast<double>(d->count()), CompareOp::kEq});
        continue;
      }
      double v = 0;
      std::from_chars(s.data() + start, s.data() + i, v);  // digits[.digits] always parse
      out.push_back(Token{Tok::kNumber, start, i, v, CompareOp::kEq});
      continue;
    }
    if (IsIdentStart(c)) {
      const std::size_t start = i;
      while (i < n && IsIdentChar(s[i])) ++i;
      out.push_back(Token{Tok::kIdent, start, i, 0, CompareOp::kEq});
      continue;
    }
    switch (c) {
      case '(': single(Tok::kLParen, 1); continue;
      case ')': single(Tok::kRParen, 1); continue;
      case '[': single(Tok::kLBracket, 1); continue;
      case ']': single(Tok::kRBracket, 1); continue;
      case ',': single(Tok::kComma, 1); continue;
      case '+': single(Tok::kPlus, 1); continue;
      case '-': single(Tok::kMinus, 1); continue;
      case '*': single(Tok::kStar, 1); continue;
      case '/': single(Tok::kSlash, 1); continue;
      case '=':
        if (next == '=') {
          compare(CompareOp::kEq, 2);
          continue;
        }
        return tl::unexpected(ErrorAt(i, "'=' is not an operator; write '==' to compare"));
      case '!':
        if (next == '=') {
          compare(CompareOp::kNe, 2);
          continue;
        }
        return tl::unexpected(ErrorAt(i, "'!' is not an operator; write 'not' to negate"));
      case '<':
        if (next == '=')
          compare(CompareOp::kLe, 2);
        else
          compare(CompareOp::kLt, 1);
        continue;
      case '>':
        if (next == '=')
          compare(CompareOp::kGe, 2);
        else
          compare(CompareOp::kGt, 1);
        continue;
      case '&': return tl::unexpected(ErrorAt(i, "'&' is not an operator; write 'and'"));
      case '|': return tl::unexpected(ErrorAt(i, "'|' is not an operator; write 'or'"));
      case '"':
      case '\'':
        return tl::unexpected(
            ErrorAt(i,
                    "quotes are not part of the language; write job statuses bare, as in "
                    "status == FAILED"));
      default: break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f) {
      return tl::unexpected(ErrorAt(i, std::string("unexpected character '") + c + "'"));
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(u));
    return tl::unexpected(ErrorAt(i, std::string("unexpected byte ") + hex));
  }
  out.push_back(Token{Tok::kEnd, n, n, 0, CompareOp::kEq});
  return out;
}

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Optimal string alignment distance, case-insensitive: typos, a transposed pair, wrong case.
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

bool StartsWithIgnoringCase(std::string_view name, std::string_view prefix) {
  if (prefix.size() > name.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(name[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

// The candidate closest to `word`, when close enough to be a likely typo or a truncation
// (FAIL -> FAILED).
std::optional<std::string> Closest(std::string_view word, const std::vector<std::string>& names) {
  const std::size_t limit = word.size() >= 5 ? 2 : 1;
  std::optional<std::string> best;
  std::size_t best_distance = std::string::npos;
  for (const std::string& name : names) {
    const std::size_t dist = EditDistance(word, name);
    const bool close = dist <= limit || (word.size() >= 3 && StartsWithIgnoringCase(name, word));
    if (close && dist < best_distance) {
      best_distance = dist;
      best = name;
    }
  }
  return best;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const std::vector<std::string>& StatusNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (int i = 0; i <= static_cast<int>(JobStatus::kReconciling); ++i) {
      names.emplace_back(JobStatusName(static_cast<JobStatus>(i)));
    }
    return names;
  }();
  return kNames;
}

bool IsKeyword(std::string_view w) {
  return w == "and" || w == "or" || w == "not" || w == "in" || w == "true" || w == "false";
}

bool Numeric(ExprType t) { return t == ExprType::kNumber || t == ExprType::kDuration; }

constexpr int kMaxDepth = 64;

}  // namespace

// Builds an Expr from tokens by recursive descent; each Parse* returns the index of the node it
// pushed (children are always pushed before their parent).
class ExprParser {
 public:
  ExprParser(std::string_view text, const std::set<std::string>& custom) : custom_(custom) {
    expr_.text_ = std::string(text);
  }

  tl::expected<Expr, ExprError> Run(bool condition) {
    auto tokens = Lex(expr_.text_);
    if (!tokens) return tl::unexpected(tokens.error());
    tokens_ = std::move(*tokens);
    if (Peek().kind == Tok::kEnd) {
      return tl::unexpected(ErrorAt(0, "expected an expression; found nothing"));
    }
    auto root = ParseOr();
    if (!root) return tl::unexpected(root.error());
    if (Peek().kind != Tok::kEnd) {
      const Token& t = Peek();
      if (t.kind == Tok::kRParen) return tl::unexpected(ErrorAt(t.begin, "unmatched ')'"));
      return tl::unexpected(
          ErrorAt(t.begin,
                  "expected an operator (and, or, ==, <, +, ...) or the end of the expression; "
                  "found " +
                      Describe(t)));
    }
    const Expr::Node& r = expr_.nodes_.back();
    if (condition && r.type != ExprType::kBool) {
      std::string example = Text(r) + (r.type == ExprType::kState      ? " == FAILED"
                                       : r.type == ExprType::kDuration ? " > 10m"
                                                                       : " > 0");
      return tl::unexpected(ErrorAt(r.begin, "a condition must be true or false; '" + Text(r) +
                                                 "' is " + ExprTypeName(r.type) +
                                                 "; compare it, e.g. " + example));
    }
    // $value: descend through the logical operators to the leftmost comparison's left side.
    std::size_t s = expr_.nodes_.size() - 1;
    while (true) {
      const Expr::Node& n = expr_.nodes_[s];
      if (n.kind == NodeKind::kAnd || n.kind == NodeKind::kOr || n.kind == NodeKind::kNot) {
        s = n.a;
        continue;
      }
      if (n.kind == NodeKind::kCompare || n.kind == NodeKind::kIn) s = n.a;
      break;
    }
    expr_.subject_ = s;
    return std::move(expr_);
  }

 private:
  using NodeResult = tl::expected<std::size_t, ExprError>;
  using Node = Expr::Node;

  // Counts nesting while alive, so hostile input cannot exhaust the stack.
  class Nest {
   public:
    explicit Nest(int& depth) : depth_(depth) { ++depth_; }
    ~Nest() { --depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    bool too_deep() const { return depth_ > kMaxDepth; }

   private:
    int& depth_;
  };

  const Token& Peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  std::string_view Word(const Token& t) const {
    return std::string_view(expr_.text_).substr(t.begin, t.end - t.begin);
  }
  bool AtKeyword(std::string_view kw, std::size_t ahead = 0) const {
    return Peek(ahead).kind == Tok::kIdent && Word(Peek(ahead)) == kw;
  }
  std::string Describe(const Token& t) const {
    if (t.kind == Tok::kEnd) return "the end of the expression";
    return "'" + std::string(Word(t)) + "'";
  }
  std::string Text(const Node& n) const { return expr_.text_.substr(n.begin, n.end - n.begin); }
  std::string Text(std::size_t i) const { return Text(expr_.nodes_[i]); }
  const Node& At(std::size_t i) const { return expr_.nodes_[i]; }

  std::size_t Push(Node n) {
    expr_.nodes_.push_back(std::move(n));
    return expr_.nodes_.size() - 1;
  }
  std::size_t PushBinary(NodeKind kind, ExprType type, std::size_t a, std::size_t b) {
    Node n;
    n.kind = kind;
    n.type = type;
    n.a = a;
    n.b = b;
    n.begin = At(a).begin;
    n.end = At(b).end;
    return Push(std::move(n));
  }
  // "a op b" as written, for messages about a binary operation.
  std::string Span(std::size_t a, std::size_t b) const {
    return expr_.text_.substr(At(a).begin, At(b).end - At(a).begin);
  }

  std::size_t AddSignal(const std::string& name, ExprType type, Duration window) {
    for (std::size_t i = 0; i < expr_.signals_.size(); ++i) {
      if (expr_.signals_[i].name == name) {
        expr_.signals_[i].window = std::max(expr_.signals_[i].window, window);
        return i;
      }
    }
    expr_.signals_.push_back(SignalUse{name, type, window});
    return expr_.signals_.size() - 1;
  }

  std::optional<ExprType> SignalType(std::string_view name) const {
    for (const SignalInfo& s : BuiltinSignals()) {
      if (s.name == name) return s.type;
    }
    if (custom_.count(std::string(name)) != 0) return ExprType::kNumber;
    return std::nullopt;
  }
  std::vector<std::string> SignalNames() const {
    std::vector<std::string> names;
    for (const SignalInfo& s : BuiltinSignals()) names.push_back(s.name);
    for (const std::string& c : custom_) {
      if (std::find(names.begin(), names.end(), c) == names.end()) names.push_back(c);
    }
    return names;
  }

  NodeResult TooDeep(std::size_t at) const {
    return tl::unexpected(ErrorAt(at, "the expression is nested too deeply (more than " +
                                          std::to_string(kMaxDepth) + " levels)"));
  }

  // A hint for a number written where a duration belongs: "; write 10m" for 600000 read as
  // milliseconds.
  std::string DurationHint(std::size_t number) const {
    const Node& n = At(number);
    if (n.kind == NodeKind::kLiteral && n.literal >= 0 && n.literal < 9e15 &&
        n.literal == static_cast<double>(static_cast<std::int64_t>(n.literal))) {
      return "; write " + FormatDuration(Duration(static_cast<std::int64_t>(n.literal)));
    }
    return "; durations are written with a unit, such as 10m";
  }
  // The offset to report for a mix of a duration and a number: the number when it is a literal
  // (that is what to rewrite), else the operator.
  std::size_t MixOffset(std::size_t a, std::size_t b, std::size_t op) const {
    const std::size_t number = At(a).type == ExprType::kNumber ? a : b;
    return At(number).kind == NodeKind::kLiteral ? At(number).begin : op;
  }

  NodeResult ParseOr() {
    auto lhs = ParseAnd();
    if (!lhs) return lhs;
    while (AtKeyword("or")) {
      Next();
      auto rhs = ParseAnd();
      if (!rhs) return rhs;
      if (auto e = CheckLogical("or", *lhs, *rhs)) return tl::unexpected(*e);
      lhs = PushBinary(NodeKind::kOr, ExprType::kBool, *lhs, *rhs);
    }
    return lhs;
  }

  NodeResult ParseAnd() {
    auto lhs = ParseNot();
    if (!lhs) return lhs;
    while (AtKeyword("and")) {
      Next();
      auto rhs = ParseNot();
      if (!rhs) return rhs;
      if (auto e = CheckLogical("and", *lhs, *rhs)) return tl::unexpected(*e);
      lhs = PushBinary(NodeKind::kAnd, ExprType::kBool, *lhs, *rhs);
    }
    return lhs;
  }

  std::optional<ExprError> CheckLogical(const char* word, std::size_t a, std::size_t b) const {
    for (std::size_t side : {a, b}) {
      if (At(side).type != ExprType::kBool) {
        return ErrorAt(At(side).begin, Span(a, b) + ": '" + word +
                                           "' needs true/false on both sides; '" + Text(side) +
                                           "' is " + ExprTypeName(At(side).type));
      }
    }
    return std::nullopt;
  }

  NodeResult ParseNot() {
    if (!AtKeyword("not")) return ParseCompare();
    const Token op = Next();
    Nest nest(depth_);
    if (nest.too_deep()) return TooDeep(op.begin);
    auto operand = ParseNot();
    if (!operand) return operand;
    if (At(*operand).type != ExprType::kBool) {
      return tl::unexpected(ErrorAt(At(*operand).begin, "'not' needs true/false; '" +
                                                            Text(*operand) + "' is " +
                                                            ExprTypeName(At(*operand).type)));
    }
    Node n;
    n.kind = NodeKind::kNot;
    n.type = ExprType::kBool;
    n.a = *operand;
    n.begin = op.begin;
    n.end = At(*operand).end;
    return Push(std::move(n));
  }

  NodeResult ParseCompare() {
    auto lhs = ParseSum();
    if (!lhs) return lhs;
    NodeResult result = lhs;
    if (Peek().kind == Tok::kCompare) {
      const Token op = Next();
      auto rhs = ParseSum();
      if (!rhs) return rhs;
      if (auto e = CheckCompare(op, *lhs, *rhs)) return tl::unexpected(*e);
      const std::size_t i = PushBinary(NodeKind::kCompare, ExprType::kBool, *lhs, *rhs);
      expr_.nodes_[i].op = op.op;
      result = i;
    } else if (AtKeyword("in") || (AtKeyword("not") && AtKeyword("in", 1))) {
      result = ParseIn(*lhs);
      if (!result) return result;
    } else {
      return lhs;
    }
    if (Peek().kind == Tok::kCompare || AtKeyword("in")) {
      return tl::unexpected(ErrorAt(Peek().begin,
                                    "comparisons do not chain; combine them with 'and', as in "
                                    "a < b and b < c"));
    }
    return result;
  }

  std::optional<ExprError> CheckCompare(const Token& op, std::size_t a, std::size_t b) const {
    const ExprType ta = At(a).type;
    const ExprType tb = At(b).type;
    const std::string what = Span(a, b) + ": ";
    const bool ordered = op.op != CompareOp::kEq && op.op != CompareOp::kNe;
    if (ta == tb) {
      if (ordered && ta == ExprType::kState) {
        return ErrorAt(op.begin, what + "a job status can only be compared with ==, != or in");
      }
      if (ordered && ta == ExprType::kBool) {
        return ErrorAt(op.begin, what + "true/false can only be compared with == or !=");
      }
      return std::nullopt;
    }
    std::string message = what + "cannot compare " + ExprTypeName(ta) + " with " + ExprTypeName(tb);
    if (Numeric(ta) && Numeric(tb)) {
      message += DurationHint(ta == ExprType::kNumber ? a : b);
      return ErrorAt(MixOffset(a, b, op.begin), message);
    }
    return ErrorAt(op.begin, message);
  }

  NodeResult ParseIn(std::size_t lhs) {
    const bool negated = AtKeyword("not");
    const Token first = Next();
    if (negated) Next();  // "in"
    const Node& left = At(lhs);
    if (left.type == ExprType::kBool) {
      return tl::unexpected(ErrorAt(first.begin,
                                    "'in' needs a number, a duration or a job "
                                    "status on its left; '" +
                                        Text(lhs) + "' is true/false"));
    }
    if (Peek().kind != Tok::kLBracket) {
      return tl::unexpected(ErrorAt(Peek().begin,
                                    "expected '[' to start the list after 'in'; "
                                    "found " +
                                        Describe(Peek())));
    }
    Next();
    std::vector<double> items;
    while (true) {
      auto item = ParseListItem(left.type, lhs);
      if (!item) return tl::unexpected(item.error());
      items.push_back(*item);
      const Token t = Next();
      if (t.kind == Tok::kComma) continue;
      if (t.kind == Tok::kRBracket) {
        Node n;
        n.kind = NodeKind::kIn;
        n.type = ExprType::kBool;
        n.a = lhs;
        n.begin = At(lhs).begin;
        n.end = t.end;
        n.list = std::move(items);
        const std::size_t in = Push(std::move(n));
        if (!negated) return in;
        Node no;
        no.kind = NodeKind::kNot;
        no.type = ExprType::kBool;
        no.a = in;
        no.begin = At(in).begin;
        no.end = At(in).end;
        return Push(std::move(no));
      }
      return tl::unexpected(
          ErrorAt(t.begin, "expected ',' or ']' in the list; found " + Describe(t)));
    }
  }

  tl::expected<double, ExprError> ParseListItem(ExprType want, std::size_t lhs) {
    const Token& t = Peek();
    if (t.kind == Tok::kRBracket) {
      return tl::unexpected(ErrorAt(t.begin,
                                    "expected a list item; found ']' (a list needs at "
                                    "least one item)"));
    }
    const std::size_t begin = t.begin;
    double sign = 1;
    if (t.kind == Tok::kMinus) {
      sign = -1;
      Next();
    }
    const Token item = Next();
    std::optional<ExprType> type;
    double value = 0;
    if (item.kind == Tok::kNumber || item.kind == Tok::kDuration) {
      type = item.kind == Tok::kNumber ? ExprType::kNumber : ExprType::kDuration;
      value = sign * item.value;
    } else if (item.kind == Tok::kIdent && sign > 0) {
      const std::string_view w = Word(item);
      if (auto st = ParseJobStatus(w)) {
        type = ExprType::kState;
        value = static_cast<double>(static_cast<int>(*st));
      } else if (w == "true" || w == "false") {
        type = ExprType::kBool;
        value = w == "true" ? 1 : 0;
      } else {
        return tl::unexpected(UnknownWord(item, /*prefer_status=*/want == ExprType::kState));
      }
    }
    if (!type) {
      return tl::unexpected(ErrorAt(item.begin,
                                    "expected a list item (a number, a duration or "
                                    "a job status); found " +
                                        Describe(item)));
    }
    if (*type != want) {
      const std::string found = expr_.text_.substr(begin, item.end - begin);
      std::string message = "the items of the list must be " + std::string(ExprTypeName(want)) +
                            " like '" + Text(lhs) + "'; found " + ExprTypeName(*type) + " '" +
                            found + "'";
      if (want == ExprType::kDuration && *type == ExprType::kNumber && value >= 0 &&
          value == static_cast<double>(static_cast<std::int64_t>(value)) && value < 9e15) {
        message += "; write " + FormatDuration(Duration(static_cast<std::int64_t>(value)));
      }
      return tl::unexpected(ErrorAt(begin, message));
    }
    return value;
  }

  NodeResult ParseSum() {
    auto lhs = ParseProduct();
    if (!lhs) return lhs;
    while (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus) {
      const Token op = Next();
      auto rhs = ParseProduct();
      if (!rhs) return rhs;
      auto type = CheckArithmetic(op, *lhs, *rhs);
      if (!type) return tl::unexpected(type.error());
      lhs = PushBinary(op.kind == Tok::kPlus ? NodeKind::kAdd : NodeKind::kSub, *type, *lhs, *rhs);
    }
    return lhs;
  }

  NodeResult ParseProduct() {
    auto lhs = ParseUnary();
    if (!lhs) return lhs;
    while (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash) {
      const Token op = Next();
      auto rhs = ParseUnary();
      if (!rhs) return rhs;
      auto type = CheckArithmetic(op, *lhs, *rhs);
      if (!type) return tl::unexpected(type.error());
      lhs = PushBinary(op.kind == Tok::kStar ? NodeKind::kMul : NodeKind::kDiv, *type, *lhs, *rhs);
    }
    return lhs;
  }

  // The type of `a op b`, or why it has none.
  tl::expected<ExprType, ExprError> CheckArithmetic(const Token& op, std::size_t a,
                                                    std::size_t b) const {
    const ExprType ta = At(a).type;
    const ExprType tb = At(b).type;
    const std::string what = Span(a, b) + ": ";
    for (std::size_t side : {a, b}) {
      if (!Numeric(At(side).type)) {
        return tl::unexpected(
            ErrorAt(At(side).begin, what + "arithmetic needs numbers or durations; '" + Text(side) +
                                        "' is " + ExprTypeName(At(side).type)));
      }
    }
    const bool da = ta == ExprType::kDuration;
    const bool db = tb == ExprType::kDuration;
    switch (op.kind) {
      case Tok::kPlus:
      case Tok::kMinus:
        if (ta == tb) return ta;
        return tl::unexpected(
            ErrorAt(MixOffset(a, b, op.begin),
                    what + (op.kind == Tok::kPlus ? "cannot add " : "cannot subtract ") +
                        ExprTypeName(tb) + (op.kind == Tok::kPlus ? " to " : " from ") +
                        ExprTypeName(ta) + DurationHint(da ? b : a)));
      case Tok::kStar:
        if (da && db) {
          return tl::unexpected(ErrorAt(op.begin, what + "cannot multiply two durations"));
        }
        return da || db ? ExprType::kDuration : ExprType::kNumber;
      case Tok::kSlash:
        if (!da && db) {
          return tl::unexpected(ErrorAt(op.begin, what + "cannot divide a number by a duration"));
        }
        if (da && db) return ExprType::kNumber;
        return ta;
      default: break;
    }
    return ta;
  }

  NodeResult ParseUnary() {
    if (Peek().kind != Tok::kMinus) return ParsePrimary();
    const Token op = Next();
    Nest nest(depth_);
    if (nest.too_deep()) return TooDeep(op.begin);
    auto operand = ParseUnary();
    if (!operand) return operand;
    Node& o = expr_.nodes_[*operand];
    if (!Numeric(o.type)) {
      return tl::unexpected(ErrorAt(o.begin, "'-' needs a number or a duration; '" +
                                                 Text(*operand) + "' is " + ExprTypeName(o.type)));
    }
    if (o.kind == NodeKind::kLiteral) {  // fold: -5 is a literal
      o.literal = -o.literal;
      o.begin = op.begin;
      return operand;
    }
    Node n;
    n.kind = NodeKind::kNeg;
    n.type = o.type;
    n.a = *operand;
    n.begin = op.begin;
    n.end = o.end;
    return Push(std::move(n));
  }

  NodeResult Literal(const Token& t, ExprType type, double value) {
    Node n;
    n.kind = NodeKind::kLiteral;
    n.type = type;
    n.literal = value;
    n.begin = t.begin;
    n.end = t.end;
    return Push(std::move(n));
  }

  NodeResult ParsePrimary() {
    const Token t = Next();
    switch (t.kind) {
      case Tok::kNumber: return Literal(t, ExprType::kNumber, t.value);
      case Tok::kDuration: return Literal(t, ExprType::kDuration, t.value);
      case Tok::kLParen: {
        Nest nest(depth_);
        if (nest.too_deep()) return TooDeep(t.begin);
        auto inner = ParseOr();
        if (!inner) return inner;
        if (Peek().kind != Tok::kRParen) {
          return tl::unexpected(ErrorAt(Peek().begin, "expected ')' to close the '(' at column " +
                                                          std::to_string(t.begin + 1) + "; found " +
                                                          Describe(Peek())));
        }
        const Token close = Next();
        // The parentheses belong to the operand as written (reasons quote it with them).
        expr_.nodes_[*inner].begin = t.begin;
        expr_.nodes_[*inner].end = close.end;
        return inner;
      }
      case Tok::kIdent: return Identifier(t);
      default: break;
    }
    return tl::unexpected(ErrorAt(t.begin,
                                  "expected a signal, a number, a duration, a job "
                                  "status, a function or '('; found " +
                                      Describe(t)));
  }

  ExprError UnknownWord(const Token& t, bool prefer_status) const {
    const std::string w(Word(t));
    const bool upper = std::all_of(w.begin(), w.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || c == '_' || IsDigit(c);
    });
    std::vector<std::string> candidates = SignalNames();
    const std::vector<std::string>& statuses = StatusNames();
    if (upper || prefer_status)
      candidates = statuses;
    else
      candidates.insert(candidates.end(), statuses.begin(), statuses.end());
    const auto suggestion = Closest(w, candidates);
    const bool status_like =
        upper || prefer_status ||
        (suggestion && std::find(statuses.begin(), statuses.end(), *suggestion) != statuses.end());
    std::string message =
        std::string(status_like ? "unknown job status '" : "unknown signal '") + w + "'";
    if (suggestion) {
      message += "; did you mean '" + *suggestion + "'?";
    } else {
      message += status_like ? "; job statuses are " + Join(statuses)
                             : "; signals are " + Join(SignalNames());
    }
    return ErrorAt(t.begin, message);
  }

  NodeResult Identifier(const Token& t) {
    const std::string w(Word(t));
    if (w == "true" || w == "false") return Literal(t, ExprType::kBool, w == "true" ? 1 : 0);
    if (IsKeyword(w)) {
      return tl::unexpected(ErrorAt(t.begin,
                                    "expected a signal, a number, a duration, a job "
                                    "status, a function or '('; found '" +
                                        w + "'"));
    }
    const auto& functions = ExprFunctionNames();
    const bool is_function = std::find(functions.begin(), functions.end(), w) != functions.end();
    if (Peek().kind == Tok::kLParen) {
      if (is_function) return Call(t);
      if (SignalType(w)) {
        return tl::unexpected(ErrorAt(
            t.begin, "'" + w + "' is a signal, not a function; functions are " + Join(functions)));
      }
      const auto suggestion = Closest(w, functions);
      return tl::unexpected(
          ErrorAt(t.begin, "unknown function '" + w + "'" +
                               (suggestion ? "; did you mean '" + *suggestion + "'?"
                                           : "; functions are " + Join(functions))));
    }
    if (auto st = ParseJobStatus(w)) {
      return Literal(t, ExprType::kState, static_cast<double>(static_cast<int>(*st)));
    }
    if (auto type = SignalType(w)) {
      Node n;
      n.kind = NodeKind::kSignal;
      n.type = *type;
      n.signal = AddSignal(w, *type, Duration{0});
      n.begin = t.begin;
      n.end = t.end;
      return Push(std::move(n));
    }
    if (is_function) {
      return tl::unexpected(ErrorAt(
          t.begin, "'" + w + "' is a function; call it, as in " +
                       (w == "absent" ? std::string("absent(lag)") : w + "(restarts, 10m)")));
    }
    return tl::unexpected(UnknownWord(t, false));
  }

  NodeResult Call(const Token& name) {
    const Token open = Next();  // '('
    Nest nest(depth_);
    if (nest.too_deep()) return TooDeep(open.begin);
    std::vector<std::size_t> args;
    Token close;
    if (Peek().kind == Tok::kRParen) {
      close = Next();
    } else {
      while (true) {
        auto arg = ParseOr();
        if (!arg) return arg;
        args.push_back(*arg);
        const Token t = Next();
        if (t.kind == Tok::kComma) continue;
        if (t.kind == Tok::kRParen) {
          close = t;
          break;
        }
        return tl::unexpected(ErrorAt(t.begin, "expected ',' or ')' in the arguments of " +
                                                   std::string(Word(name)) + "; found " +
                                                   Describe(t)));
      }
    }
    const std::string fname(Word(name));
    Function f = Function::kIncrease;
    for (Function g :
         {Function::kIncrease, Function::kRate, Function::kChanges, Function::kAvgOverTime,
          Function::kMinOverTime, Function::kMaxOverTime, Function::kAbsent}) {
      if (fname == FunctionName(g)) f = g;
    }
    const bool absent = f == Function::kAbsent;
    const std::size_t want = absent ? 1 : 2;
    if (args.size() != want) {
      return tl::unexpected(
          ErrorAt(name.begin, fname +
                                  (absent ? " takes 1 argument (a signal), as in absent(lag)"
                                          : " takes 2 arguments (a signal and a window), as in " +
                                                fname + "(restarts, 10m)") +
                                  "; found " + std::to_string(args.size())));
    }
    const Node& subject = At(args[0]);
    if (subject.kind != NodeKind::kSignal) {
      return tl::unexpected(ErrorAt(
          subject.begin, "the first argument of " + fname + " must be a signal name, such as " +
                             (absent ? "lag" : "restarts") + "; found '" + Text(args[0]) + "'"));
    }
    Node n;
    n.kind = NodeKind::kCall;
    n.function = f;
    n.a = args[0];
    n.begin = name.begin;
    n.end = close.end;
    const std::string signal = expr_.signals_[subject.signal].name;
    const ExprType st = subject.type;
    if (absent) {
      n.type = ExprType::kBool;
      n.signal = subject.signal;
      return Push(std::move(n));
    }
    const Node& window = At(args[1]);
    if (window.kind != NodeKind::kLiteral || window.type != ExprType::kDuration) {
      std::string message = "the window of " + fname + " must be a duration such as 10m; found ";
      message += window.kind == NodeKind::kLiteral
                     ? std::string(ExprTypeName(window.type)) + " '" + Text(args[1]) + "'"
                     : "'" + Text(args[1]) + "'";
      return tl::unexpected(ErrorAt(window.begin, message));
    }
    if (window.literal <= 0) {
      return tl::unexpected(
          ErrorAt(window.begin,
                  "the window of " + fname + " must be longer than 0s; found " + Text(args[1])));
    }
    if (window.literal > static_cast<double>(kMaxExprWindow.count())) {
      return tl::unexpected(ErrorAt(
          window.begin, "the window of " + fname + " may be at most " +
                            FormatDuration(kMaxExprWindow) +
                            " (longer windows belong in a TSDB query); found " + Text(args[1])));
    }
    switch (f) {
      case Function::kIncrease:
      case Function::kRate:
        if (st != ExprType::kNumber) {
          return tl::unexpected(ErrorAt(subject.begin, fname +
                                                           " needs a number signal (a "
                                                           "counter such as restarts); '" +
                                                           signal + "' is " + ExprTypeName(st)));
        }
        n.type = ExprType::kNumber;
        break;
      case Function::kChanges: n.type = ExprType::kNumber; break;
      default:
        if (!Numeric(st)) {
          return tl::unexpected(ErrorAt(subject.begin, fname +
                                                           " needs a number or duration "
                                                           "signal; '" +
                                                           signal + "' is " + ExprTypeName(st)));
        }
        n.type = st;
        break;
    }
    n.window_ms = static_cast<std::int64_t>(window.literal);
    n.b = args[1];
    n.signal = AddSignal(signal, st, Duration(n.window_ms));
    return Push(std::move(n));
  }

  Expr expr_;
  const std::set<std::string>& custom_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

tl::expected<Expr, ExprError> Expr::Compile(std::string_view text,
                                            const std::set<std::string>& custom_signals) {
  return ExprParser(text, custom_signals).Run(false);
}

tl::expected<Expr, ExprError> Expr::CompileCondition(std::string_view text,
                                                     const std::set<std::string>& custom_signals) {
  return ExprParser(text, custom_signals).Run(true);
}

}  // namespace flinkguard
