/** ClickHouse settings values as they appear in a `SETTINGS` clause. */
export type Settings = Readonly<Record<string, string | number | boolean>>;

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Renders settings as the body of a `SETTINGS` clause, quoting strings the
 * ClickHouse way (backslash and single quote escaped).
 *
 * @example
 * renderSettings({ max_threads: 2, log_comment: "it's" }); // "max_threads = 2, log_comment = 'it\\'s'"
 */
export function renderSettings(settings: Settings): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!SETTING_NAME.test(name)) throw new Error(`invalid ClickHouse setting name ${JSON.stringify(name)}`);
      return `${name} = ${renderValue(value)}`;
    })
    .join(', ');
}

function renderValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid ClickHouse setting value ${value}`);
    return String(value);
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
