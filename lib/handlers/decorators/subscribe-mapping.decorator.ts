import 'reflect-metadata';
import { SUBSCRIBE_MAPPING_METADATA } from '../handler-metadata.constants.js';
import { classOrMethodArrayDecorator } from './append-metadata.js';

/**
 * Handles SUBSCRIBE frames to application destinations (`/app/...`). The return value is sent
 * once, straight back to the subscribing session on that subscription (not through the broker),
 * which suits initial data for a view. With `@SendTo`/`@SendToUser` it goes to the broker instead.
 */
export function SubscribeMapping(...patterns: string[]): MethodDecorator {
  return classOrMethodArrayDecorator(SUBSCRIBE_MAPPING_METADATA, patterns.length ? patterns : ['']);
}
