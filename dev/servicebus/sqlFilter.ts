import { generate } from "peggy";
import type { SystemProperties } from "./brokeredMessage";

/**
 * The part of Service Bus's SQL filter language (a SQL-92 subset) that subscriptions here use:
 * comparisons (`=`, `<>`, `!=`, `<`, `<=`, `>`, `>=`), `[NOT] LIKE` with `ESCAPE`, `[NOT] IN`,
 * `IS [NOT] NULL`, `EXISTS`, `AND`/`OR`/`NOT` and parentheses, over string, number, boolean and
 * NULL constants and `[sys.|user.]name` properties. Arithmetic and functions are refused at parse.
 */
export type SqlExpression =
  | { kind: "or" | "and"; left: SqlExpression; right: SqlExpression }
  | { kind: "not"; operand: SqlExpression }
  | {
      kind: "compare";
      op: "=" | "<>" | "<" | "<=" | ">" | ">=";
      left: SqlOperand;
      right: SqlOperand;
    }
  | { kind: "like"; operand: SqlOperand; pattern: string; escape?: string; negated: boolean }
  | { kind: "in"; operand: SqlOperand; values: SqlOperand[]; negated: boolean }
  | { kind: "isNull"; operand: SqlProperty; negated: boolean }
  | { kind: "exists"; property: SqlProperty }
  | { kind: "constant"; value: boolean };

export type SqlOperand = SqlProperty | { kind: "literal"; value: string | number | boolean | null };
export interface SqlProperty {
  kind: "property";
  scope: "sys" | "user";
  name: string;
}

const GRAMMAR = String.raw`
Filter = _ e:Or _ { return e; }
Or = head:And tail:(__ "OR"i __ e:And { return e; })* { return tail.reduce((left, right) => ({ kind: "or", left, right }), head); }
And = head:Not tail:(__ "AND"i __ e:Not { return e; })* { return tail.reduce((left, right) => ({ kind: "and", left, right }), head); }
Not = "NOT"i __ e:Not { return { kind: "not", operand: e }; } / Predicate
Predicate
  = "(" _ e:Or _ ")" { return e; }
  / "EXISTS"i _ "(" _ p:Property _ ")" { return { kind: "exists", property: p }; }
  / p:Property __ "IS"i __ n:("NOT"i __)? "NULL"i !IdentifierPart { return { kind: "isNull", operand: p, negated: n !== null }; }
  / o:Operand __ n:("NOT"i __)? "LIKE"i __ pattern:String e:(__ "ESCAPE"i __ c:String { return c; })? {
      if (e !== null && e.length !== 1) error("ESCAPE takes a single character");
      return { kind: "like", operand: o, pattern, escape: e ?? undefined, negated: n !== null };
    }
  / o:Operand __ n:("NOT"i __)? "IN"i _ "(" _ head:Operand tail:(_ "," _ v:Operand { return v; })* _ ")" {
      return { kind: "in", operand: o, values: [head, ...tail], negated: n !== null };
    }
  / left:Operand _ op:("<>" / "!=" / "<=" / ">=" / "=" / "<" / ">") _ right:Operand {
      return { kind: "compare", op: op === "!=" ? "<>" : op, left, right };
    }
  / b:Boolean { return { kind: "constant", value: b }; }
Operand = v:(String / Number / Boolean / Null) { return { kind: "literal", value: v }; } / Property
Property
  = s:("sys"i / "user"i) "." n:Name { return { kind: "property", scope: s.toLowerCase(), name: n }; }
  / n:Name { return { kind: "property", scope: "user", name: n }; }
Name = !(Keyword !IdentifierPart) h:[A-Za-z_] t:IdentifierPart* { return h + t.join(""); }
  / "[" n:$[^\]]+ "]" { return n; }
IdentifierPart = [A-Za-z0-9_]
Keyword = "AND"i / "OR"i / "NOT"i / "LIKE"i / "IN"i / "IS"i / "NULL"i / "TRUE"i / "FALSE"i / "ESCAPE"i / "EXISTS"i
String = "'" chars:("''" { return "'"; } / [^'])* "'" { return chars.join(""); }
Number = n:$("-"? [0-9]+ ("." [0-9]+)?) !IdentifierPart { return Number(n); }
Boolean = "TRUE"i !IdentifierPart { return true; } / "FALSE"i !IdentifierPart { return false; }
Null = "NULL"i !IdentifierPart { return null; }
_ = [ \t\r\n]*
__ = [ \t\r\n]+ / &"(" / &"'"
`;

const parser = generate(GRAMMAR);

export class SqlFilterError extends Error {}

/** Parses a filter expression; throws SqlFilterError naming where it stopped. */
export function parseSqlFilter(expression: string): SqlExpression {
  try {
    return parser.parse(expression) as SqlExpression;
  } catch (error) {
    const { message, location } = error as {
      message: string;
      location?: { start: { column: number } };
    };
    const where = location ? ` (at character ${location.start.column})` : "";
    throw new SqlFilterError(`SQL filter "${expression}": ${message}${where}`);
  }
}

/** What a filter reads from a message: system properties by name, and application properties. */
export interface FilterableMessage {
  system: SystemProperties;
  applicationProperties: Record<string, unknown>;
}

/** `sys.` names as the filter language spells them, mapped to the broker's system properties. */
const SYSTEM_PROPERTIES: Record<string, keyof SystemProperties> = {
  messageid: "messageId",
  correlationid: "correlationId",
  contenttype: "contentType",
  label: "subject",
  subject: "subject",
  to: "to",
  replyto: "replyTo",
  replytosessionid: "replyToSessionId",
  sessionid: "sessionId",
};

type Value = string | number | boolean | null;
/** SQL's three-valued logic: `undefined` is UNKNOWN (a comparison with NULL). */
type Truth = boolean | undefined;

function operandValue(operand: SqlOperand, message: FilterableMessage): Value {
  if (operand.kind === "literal") return operand.value;
  if (operand.scope === "sys") {
    const field = SYSTEM_PROPERTIES[operand.name.toLowerCase()];
    return field === undefined ? null : (message.system[field] ?? null);
  }
  const value = message.applicationProperties[operand.name];
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  if (typeof value === "bigint") return Number(value);
  return null;
}

function compare(op: string, left: Value, right: Value): Truth {
  if (left === null || right === null) return undefined;
  // Azure fails the evaluation of mismatched types: the message is not copied either way.
  if (typeof left !== typeof right) return undefined;
  switch (op) {
    case "=":
      return left === right;
    case "<>":
      return left !== right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
    case ">":
      return left > right;
    default:
      return left >= right;
  }
}

const escapeRegExp = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");

/** `%` any run, `_` one character; the escape character makes the next one literal. */
function likePattern(pattern: string, escapeCharacter: string | undefined): RegExp {
  let source = "";
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index];
    if (character === escapeCharacter && index + 1 < pattern.length) {
      source += escapeRegExp(pattern[++index]);
    } else if (character === "%") source += "[\\s\\S]*";
    else if (character === "_") source += "[\\s\\S]";
    else source += escapeRegExp(character);
  }
  return new RegExp(`^${source}$`, "u");
}

const not = (truth: Truth): Truth => (truth === undefined ? undefined : !truth);

function evaluate(expression: SqlExpression, message: FilterableMessage): Truth {
  switch (expression.kind) {
    case "constant":
      return expression.value;
    case "or": {
      const left = evaluate(expression.left, message);
      if (left === true) return true;
      const right = evaluate(expression.right, message);
      return right === true ? true : left === false && right === false ? false : undefined;
    }
    case "and": {
      const left = evaluate(expression.left, message);
      if (left === false) return false;
      const right = evaluate(expression.right, message);
      return right === false ? false : left === true && right === true ? true : undefined;
    }
    case "not":
      return not(evaluate(expression.operand, message));
    case "compare":
      return compare(
        expression.op,
        operandValue(expression.left, message),
        operandValue(expression.right, message),
      );
    case "like": {
      const value = operandValue(expression.operand, message);
      if (typeof value !== "string") return undefined;
      const matches = likePattern(expression.pattern, expression.escape).test(value);
      return expression.negated ? !matches : matches;
    }
    case "in": {
      const value = operandValue(expression.operand, message);
      if (value === null) return undefined;
      const found = expression.values.some(
        (candidate) => compare("=", value, operandValue(candidate, message)) === true,
      );
      return expression.negated ? !found : found;
    }
    case "isNull": {
      const isNull = operandValue(expression.operand, message) === null;
      return expression.negated ? !isNull : isNull;
    }
    case "exists":
      return operandValue(expression.property, message) !== null;
  }
}

/** Whether the filter selects the message: only TRUE does, UNKNOWN and FALSE do not. */
export function sqlFilterMatches(expression: SqlExpression, message: FilterableMessage): boolean {
  return evaluate(expression, message) === true;
}
