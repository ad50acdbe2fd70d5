import { BadRequestException, Body, Controller, Param, Post, type PipeTransform } from '@nestjs/common';
import {
  DestinationVariable,
  MessageMapping,
  Payload,
  Principal,
  SendTo,
  StompMessagingTemplate,
  SubscribeMapping,
  type StompPrincipal,
} from '../../lib/index.js';
import { escapeHtml } from '../greeting/greeting.controller.js';
import { ChatMessageDto, ROOM_NAME, type ChatMessage } from './chat-message.js';
import { ChatRoomsService } from './chat-rooms.service.js';

const ROOM_PATTERN = new RegExp(`^${ROOM_NAME}$`);

/** The HTTP endpoint's room parameter must be a room name (400 otherwise). */
class RoomNamePipe implements PipeTransform<string, string> {
  transform(room: string): string {
    if (!ROOM_PATTERN.test(room)) {
      throw new BadRequestException('room must be 1 to 64 letters, digits, "_" or "-"');
    }
    return room;
  }
}

/** Chat rooms: STOMP in, STOMP out, and an HTTP endpoint that posts into a room. */
@Controller()
export class ChatController {
  constructor(
    private readonly rooms: ChatRoomsService,
    private readonly template: StompMessagingTemplate,
  ) {}

  /** A client sends to /app/chat/{room}; everyone subscribed to /topic/chat/{room} receives it. */
  @MessageMapping(`/chat/{room:${ROOM_NAME}}`)
  @SendTo('/topic/chat/{room}')
  say(
    @DestinationVariable('room') room: string,
    @Payload() message: ChatMessageDto,
    @Principal() user: StompPrincipal | undefined,
  ): ChatMessage {
    return this.rooms.record({
      room,
      from: user?.name ?? 'anonymous',
      text: escapeHtml(message.text),
      sentAt: new Date().toISOString(),
    });
  }

  /** Subscribing to /app/chat/{room}/history answers once, to that subscriber only. */
  @SubscribeMapping(`/chat/{room:${ROOM_NAME}}/history`)
  history(@DestinationVariable('room') room: string): ChatMessage[] {
    return this.rooms.history(room);
  }

  /** HTTP: `POST /api/rooms/lobby/messages {"text":"hi"}` posts into the room as "http". */
  @Post('api/rooms/:room/messages')
  async post(@Param('room', RoomNamePipe) room: string, @Body() message: ChatMessageDto): Promise<ChatMessage> {
    const chat = this.rooms.record({ room, from: 'http', text: escapeHtml(message.text), sentAt: new Date().toISOString() });
    await this.template.convertAndSend(`/topic/chat/${room}`, chat);
    return chat;
  }
}
