/** Appends `values` to an array stored under `key` on `target`, so stacked decorators add up. */
export function appendMetadata(key: string, values: readonly unknown[], target: object): void {
  const existing = (Reflect.getMetadata(key, target) as unknown[] | undefined) ?? [];
  Reflect.defineMetadata(key, [...existing, ...values], target);
}

/** A decorator usable on a class or a method that stores `values` under `key` (appending). */
export function classOrMethodArrayDecorator(key: string, values: readonly unknown[]) {
  return (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    appendMetadata(key, values, descriptor ? (descriptor.value as object) : target);
  };
}
