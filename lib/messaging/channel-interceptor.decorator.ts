import type { StompChannel, StompChannelInterceptor as ChannelInterceptorShape } from './channel-interceptor.js';

/** Reflect-metadata key of {@link StompChannelInterceptor}: the channels a class intercepts. */
export const STOMP_CHANNEL_INTERCEPTOR_METADATA = 'nestjs-stomp:channel-interceptor';

const CHANNELS: readonly StompChannel[] = ['clientInbound', 'clientOutbound', 'broker'];

/**
 * Sees every frame on one channel before it goes on (Spring's `ChannelInterceptor.preSend`): see
 * the docstring of `preSend` in `channel-interceptor.ts` for what it may return and how a throw
 * is answered on each channel. The same name is the class decorator below (a function and an
 * interface merge in TypeScript, as Nest's `Injectable` does).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StompChannelInterceptor extends ChannelInterceptorShape {}

/**
 * Registers a provider as an interceptor of `channel` (Spring's
 * `configureClientInboundChannel(registration.interceptors(...))`, Nest style): the class must
 * also be a provider of some module (`providers: [AuditInterceptor]`), so it can inject services.
 * Decorated providers run after the interceptors listed in `StompModule` options, in the order
 * Nest discovers them (module by module, providers in the order listed). Stack the decorator to
 * intercept several channels. It only stores metadata; `ChannelInterceptors` reads it at start-up.
 *
 * ```ts
 * @Injectable()
 * @StompChannelInterceptor('clientInbound')
 * export class AuditInterceptor implements StompChannelInterceptor {
 *   constructor(private readonly audit: AuditService) {}
 *   preSend(frame: StompFrame, context: ChannelInterceptorContext) {
 *     if (frame.command === 'SEND') this.audit.record(context.session?.user, frame.headers.destination);
 *   }
 * }
 * ```
 * @throws TypeError at decoration time when `channel` is not `'clientInbound'`, `'clientOutbound'`
 *   or `'broker'`.
 */
export function StompChannelInterceptor(channel: StompChannel): ClassDecorator {
  if (!CHANNELS.includes(channel)) {
    throw new TypeError(
      `@StompChannelInterceptor(${JSON.stringify(channel)}): the channel must be one of ${CHANNELS.map((c) => `'${c}'`).join(', ')}`,
    );
  }
  return (target) => {
    const existing = (Reflect.getMetadata(STOMP_CHANNEL_INTERCEPTOR_METADATA, target) as StompChannel[] | undefined) ?? [];
    if (!existing.includes(channel)) {
      Reflect.defineMetadata(STOMP_CHANNEL_INTERCEPTOR_METADATA, [...existing, channel], target);
    }
  };
}

/** The channels `type` (a class, or a subclass of one) was decorated for with {@link StompChannelInterceptor}. */
export function interceptedChannels(type: unknown): readonly StompChannel[] {
  if (typeof type !== 'function') return [];
  return (Reflect.getMetadata(STOMP_CHANNEL_INTERCEPTOR_METADATA, type) as StompChannel[] | undefined) ?? [];
}
