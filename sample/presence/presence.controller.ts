import { Controller } from '@nestjs/common';
import { SubscribeMapping } from '../../lib/index.js';
import { PresenceService } from './presence.service.js';

/** Subscribing to /app/presence answers once with who is online now; /topic/presence has the changes. */
@Controller()
export class PresenceController {
  constructor(private readonly presence: PresenceService) {}

  @SubscribeMapping('/presence')
  online(): string[] {
    return this.presence.online();
  }
}
