/**
 * The names a comma-separated option selects (`--scenario fanout,pairs`, `--attack all`), in the
 * order of `known`. An unknown name ends the process with exit code 2 and says what to choose.
 */
export function selectNames<T extends string>(option: string[] | undefined, known: readonly T[], what: string): T[] {
  const selected = (option ?? ['all']).flatMap((s) => s.split(',')).flatMap((s) => {
    if (s === 'all') return [...known];
    if (!(known as readonly string[]).includes(s)) {
      console.error(`Unknown ${what} "${s}"; choose from ${known.join(', ')}, all`);
      process.exit(2);
    }
    return [s as T];
  });
  return known.filter((name) => selected.includes(name));
}
