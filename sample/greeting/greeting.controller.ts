import { Controller } from '@nestjs/common';
import { MessageMapping, Payload, SendTo } from '../../lib/index.js';
import { HelloMessage } from './hello-message.js';

export interface Greeting {
  content: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}

/** Spring's "Using WebSocket to build an interactive web application" guide, ported line for line. */
@Controller()
export class GreetingController {
  @MessageMapping('/hello')
  @SendTo('/topic/greetings')
  greeting(@Payload() message: HelloMessage): Greeting {
    return { content: `Hello, ${escapeHtml(message.name)}!` };
  }
}
