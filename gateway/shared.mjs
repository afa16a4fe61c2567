// Equal subscriptions of the gateway's WebSocket clients share one execution.
//
// Hive Gateway deduplicates in-flight queries, not subscriptions: 500 clients watching one box
// were 500 upstream subscriptions, and every event was received, executed through the
// gateway's schema and encoded 500 times (bench.graph: the gateway was the larger share of the
// delay once the subgraph shared its own). Here a client subscription whose scope (the client's
// token), document, operation name and variables equal those of a running one joins it: the
// gateway subscribes upstream once, and every member gets each result from its own queue,
// so a member that leaves (complete, or its socket closes) ends only its own iteration; the
// last to leave ends the upstream subscription.
//
// Only subscriptions over WebSocket are shared: their context's request is the upgrade request,
// which no client's leaving aborts. An SSE subscription's request is aborted when its client
// goes, and the upstream subscription with it, so sharing one would end the others' too.
import { print } from 'graphql';

// Results a member may have waiting before its oldest is dropped (the subgraph's rule too).
const MEMBER_CAPACITY = 1024;

function isAsyncIterable(value) {
  return value != null && typeof value[Symbol.asyncIterator] === 'function';
}

class Member {
  constructor(broadcast) {
    this.broadcast = broadcast;
    this.queue = [];
    this.waiting = null;
    this.done = false;
    this.failure = null;
  }

  push(value) {
    if (this.done) return;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value, done: false });
      return;
    }
    if (this.queue.length >= MEMBER_CAPACITY) this.queue.shift();
    this.queue.push(value);
  }

  // A failure is thrown once, to the next read: at once if one waits, else when it comes.
  end(failure = null) {
    if (this.done) return;
    this.done = true;
    if (!this.waiting) {
      this.failure = failure;
      return;
    }
    const waiting = this.waiting;
    this.waiting = null;
    if (failure) waiting.reject(failure);
    else waiting.resolve({ value: undefined, done: true });
  }

  next() {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
    if (this.done) {
      const failure = this.failure;
      this.failure = null;
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return() {
    this.queue = [];
    this.end();
    this.broadcast.leave(this);
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error) {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

class Broadcast {
  constructor(registry, key, started) {
    this.registry = registry;
    this.key = key;
    this.members = new Set();
    this.iterator = null;
    // What every member gets: the upstream iterable is pumped once; a result that is not
    // iterable (a refusal) goes to each as it is, and the next subscriber tries anew.
    this.ready = Promise.resolve(started).then(
      (source) => {
        if (!isAsyncIterable(source)) {
          this.forget();
          return { result: source };
        }
        this.iterator = source[Symbol.asyncIterator]();
        if (this.members.size === 0) {
          this.forget();
          this.stop();
        } else {
          this.pump();
        }
        return {};
      },
      (error) => {
        this.forget();
        throw error;
      },
    );
  }

  async pump() {
    let failure = null;
    try {
      for (;;) {
        const { value, done } = await this.iterator.next();
        if (done) break;
        // A result with errors is often the last (a refusal upstream): whoever subscribes
        // from now on starts anew and gets its own.
        if (value?.errors?.length) this.forget();
        for (const member of this.members) member.push(value);
      }
    } catch (error) {
      failure = error;
    } finally {
      this.forget();
      for (const member of this.members) member.end(failure);
    }
  }

  join() {
    const member = new Member(this);
    this.members.add(member);
    return this.ready.then(
      ({ result }) => {
        if (result === undefined) return member;
        this.members.delete(member);
        return result;
      },
      (error) => {
        this.members.delete(member);
        throw error;
      },
    );
  }

  leave(member) {
    this.members.delete(member);
    if (this.members.size === 0) {
      this.forget();
      // A source not yet ready is returned as it arrives (above).
      if (this.iterator) this.stop();
    }
  }

  stop() {
    // A refusal to stop is no one's to handle (and unhandled, it would end the gateway).
    Promise.resolve(this.iterator.return?.()).catch(() => {});
  }

  forget() {
    if (this.registry.get(this.key) === this) this.registry.delete(this.key);
  }
}

// scope(context): what of the client the subscription's results depend on (its token), or
// undefined not to share it.
export function useSharedSubscriptions({ scope }) {
  const running = new Map();
  return {
    onSubscribe({ setSubscribeFn, subscribeFn }) {
      setSubscribeFn((args) => {
        const context = args.contextValue;
        const who = context?.connectionParams ? scope(context) : undefined;
        if (who === undefined) return subscribeFn(args);
        const key = JSON.stringify([
          who,
          print(args.document),
          args.operationName ?? null,
          args.variableValues ?? {},
        ]);
        let broadcast = running.get(key);
        if (!broadcast) {
          broadcast = new Broadcast(running, key, subscribeFn(args));
          running.set(key, broadcast);
        }
        return broadcast.join();
      });
    },
  };
}
