import { PUBLISHABLE_ACTIONS } from "../../src/core/actions";
import { ARTIFACT_KINDS } from "../../src/core/artifactKind";
import type { Result } from "../../src/core/result";

/** What a subscriber asks for; every list is ORed within itself, the fields ANDed together. */
export interface SubscriptionCriteria {
  repositories: string[];
  tags: string[];
  actions: string[];
  kinds: string[];
  tagged: boolean;
}

/** A Service Bus SQL filter expression, or what is wrong with the criteria. */
export type FilterResult = Result<string, string[]>;

/**
 * The characters a glob may hold besides `*` (any run, `/` included: a LIKE pattern cannot
 * stop at `/`) and `?` (one character): those of repository names and of tags.
 */
const GLOB_CHARACTERS = {
  repository: /^[A-Za-z0-9._/*?-]+$/,
  tag: /^[A-Za-z0-9._*?-]+$/,
} as const;

/** Makes `%`, `_` and itself literal in a LIKE pattern; not a character of any name or tag. */
const ESCAPE = "~";

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

function globProblem(option: "repository" | "tag", glob: string): string | undefined {
  if (glob === "") return `--${option} must not be empty`;
  if (GLOB_CHARACTERS[option].test(glob)) return undefined;
  const bad = [...glob].find((character) => !GLOB_CHARACTERS[option].test(character));
  const why =
    bad !== undefined && "[]{}".includes(bad)
      ? "character classes and {a,b} alternatives have no Service Bus LIKE equivalent: give the option once per pattern"
      : `a ${option} name cannot contain it`;
  return `--${option} "${glob}": "${bad}" is not allowed (${why})`;
}

/** `prod/*` -> `repository LIKE 'prod/%'`; a glob without wildcards is an equality. */
function globCondition(property: string, glob: string): string {
  if (!/[*?]/.test(glob)) return `${property} = ${sqlString(glob)}`;
  let pattern = "";
  let escaped = false;
  for (const character of glob) {
    if (character === "*") pattern += "%";
    else if (character === "?") pattern += "_";
    else if (character === "%" || character === "_" || character === ESCAPE) {
      pattern += ESCAPE + character;
      escaped = true;
    } else pattern += character;
  }
  const escapeClause = escaped ? ` ESCAPE ${sqlString(ESCAPE)}` : "";
  return `${property} LIKE ${sqlString(pattern)}${escapeClause}`;
}

function anyOf(conditions: string[]): string {
  return conditions.length === 1 ? conditions[0] : `(${conditions.join(" OR ")})`;
}

function oneOf(property: string, values: string[]): string {
  return values.length === 1
    ? `${property} = ${sqlString(values[0])}`
    : `${property} IN (${values.map(sqlString).join(", ")})`;
}

function unknownValues(option: string, values: string[], known: readonly string[]): string[] {
  return values
    .filter((value) => !known.includes(value))
    .map((value) => `--${option} "${value}" is not one of ${known.join(", ")}`);
}

/** The Service Bus SQL filter selecting what the criteria describe, or what is wrong with them. */
export function sqlFilterFor(criteria: SubscriptionCriteria): FilterResult {
  const problems = [
    ...criteria.repositories.map((glob) => globProblem("repository", glob)),
    ...criteria.tags.map((glob) => globProblem("tag", glob)),
    ...unknownValues("action", criteria.actions, PUBLISHABLE_ACTIONS),
    ...unknownValues("kind", criteria.kinds, ARTIFACT_KINDS),
  ].filter((problem): problem is string => problem !== undefined);
  if (problems.length > 0) return { ok: false, failure: problems };
  const conditions = [
    criteria.repositories.length > 0 &&
      anyOf(criteria.repositories.map((glob) => globCondition("repository", glob))),
    criteria.tags.length > 0 && anyOf(criteria.tags.map((glob) => globCondition("tag", glob))),
    criteria.actions.length > 0 && oneOf("action", criteria.actions),
    criteria.kinds.length > 0 && oneOf("artifactKind", criteria.kinds),
    criteria.tagged && "tagged = 'true'",
  ].filter((condition): condition is string => condition !== false);
  return { ok: true, value: conditions.length === 0 ? "1=1" : conditions.join(" AND ") };
}
