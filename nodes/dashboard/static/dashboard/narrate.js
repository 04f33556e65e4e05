/* Plain-word narration of dashboard events, in Chinese and English, for a teacher to read out.
 *
 * YRD_NARRATE(event, ctx) returns {zh, en} or null (events that are animated but not told, such
 * as single votes). ctx gives names: ctx.city(id) -> {zh, en}, ctx.node(id) -> {zh, en},
 * ctx.institution(address) -> name or null, ctx.enterprise(code) -> {name, city} or null,
 * ctx.grantHeight(enterprise, querierCity) -> block height of the consent or null,
 * ctx.quorum and ctx.validators (numbers).
 */
"use strict";

const YRD_NARRATE = (() => {
  const short = (code) => (code ? `${String(code).slice(0, 8)}…` : "?");
  const date = (seconds) => (seconds ? new Date(Number(seconds) * 1000).toISOString().slice(0, 10) : "?");

  function cityOf(ctx, id) {
    return ctx.city(id) || { zh: id || "未知城市", en: id || "an unknown city" };
  }

  const tellers = {
    proposal(e, ctx) {
      const n = ctx.node(e.node);
      return {
        zh: `${n.zh} 作为本轮提议者，提议第 ${e.height} 块（第 ${e.round} 轮，${e.transactions} 笔交易），发给所有验证节点。`,
        en: `${n.en} is this round's proposer: it proposes block ${e.height} (round ${e.round}, ${e.transactions} transactions) to every validator.`,
      };
    },
    commit(e, ctx) {
      const what = e.transactions
        ? { zh: `${e.transactions} 笔交易`, en: `${e.transactions} transaction${e.transactions === 1 ? "" : "s"}` }
        : { zh: "空的心跳块", en: "an empty heartbeat block" };
      return {
        zh: `第 ${e.height} 块已提交：${what.zh}，${ctx.quorum}/${ctx.validators} 个验证节点签名即最终确定，不会回滚。`,
        en: `Block ${e.height} is committed: ${what.en}; ${ctx.quorum} of ${ctx.validators} validators signed it, so it is final at once.`,
      };
    },
    heartbeats(e, ctx) {
      const range = e.first === e.last ? { zh: `第 ${e.first} 块`, en: `Block ${e.first}` }
        : { zh: `第 ${e.first}–${e.last} 块`, en: `Blocks ${e.first}–${e.last}` };
      return e.count === 1
        ? {
          zh: `${range.zh}是空的心跳块：没有交易时，网络照样按时出块，${ctx.quorum}/${ctx.validators} 个验证节点签名，说明共识仍在运转。`,
          en: `${range.en} is an empty heartbeat block: with no transactions the network still commits on time, ${ctx.quorum} of ${ctx.validators} validators signing, so consensus is alive.`,
        }
        : {
          zh: `${range.zh}：${e.count} 个空的心跳块（没有交易）。网络空闲时照样按时出块，说明共识仍在运转。`,
          en: `${range.en}: ${e.count} empty heartbeat blocks (no transactions). An idle network still commits on time, so consensus is alive.`,
        };
    },
    round_change(e, ctx) {
      const n = ctx.node(e.node);
      return {
        zh: `${n.zh} 等待超时：第 ${e.height ?? "?"} 块转入第 ${e.round} 轮，由下一个节点提议。`,
        en: `${n.en} timed out waiting; block ${e.height ?? "?"} moves to round ${e.round} and the next node in the rotation proposes.`,
      };
    },
    equivocation(e, ctx) {
      const n = ctx.node(e.node);
      return { zh: `${n.zh} 发现有节点对同一轮发出两种不同的消息（作恶），只保留第一条。`,
        en: `${n.en} caught a node sending two different messages for one round (equivocation); it keeps the first.` };
    },
    record_published(e, ctx) {
      const origin = cityOf(ctx, e.origin_city);
      const ent = ctx.enterprise(e.enterprise);
      const name = ent ? `（${ent.name}）` : "";
      return {
        zh: `${origin.zh}的征信机构发布企业 ${short(e.enterprise)}${name}的${e.kind_zh || "信用"}记录：链上只存哈希，原始数据留在${origin.zh}节点（第 ${e.height} 块）。`,
        en: `${e.publisher_name || `${origin.en}'s bureau`} publishes a ${e.kind_en || "credit"} record of enterprise ${short(e.enterprise)}${ent ? ` (${ent.name})` : ""}; only its hash goes on chain, the record stays at ${origin.en}'s nodes (block ${e.height}).`,
      };
    },
    record_corrected(e, ctx) {
      const origin = cityOf(ctx, e.origin_city);
      return {
        zh: `企业 ${short(e.enterprise)} 的记录被更正为第 ${e.version} 版，新旧版本在链上相连（第 ${e.height} 块，数据在${origin.zh}）。`,
        en: `A record of enterprise ${short(e.enterprise)} is corrected to version ${e.version}; old and new versions stay linked on chain (block ${e.height}, data in ${origin.en}).`,
      };
    },
    record_revoked(e) {
      return {
        zh: `企业 ${short(e.enterprise)} 的一条记录被撤销${e.reason === 255 ? "（异议成立）" : ""}（第 ${e.height} 块）。`,
        en: `A record of enterprise ${short(e.enterprise)} is revoked${e.reason === 255 ? " because a dispute was upheld" : ""} (block ${e.height}).`,
      };
    },
    query(e, ctx) {
      const from = cityOf(ctx, e.from_city);
      // The public stream names no enterprise (privacy); a signed regulator's replay does.
      const entZh = e.enterprise ? `企业 ${short(e.enterprise)}` : "企业";
      const entEn = e.enterprise ? `enterprise ${short(e.enterprise)}` : "an enterprise";
      const grant = e.grant_height ?? ctx.grantHeight(e.enterprise, e.from_city);
      const consent = grant != null
        ? { zh: `该企业已在第 ${grant} 块授权`, en: `the enterprise granted consent in block ${grant}` }
        : { zh: "该企业的授权已在链上核验", en: "the enterprise's consent was checked on chain" };
      if (e.outcome && e.outcome !== "answered") {
        return {
          zh: `${from.zh}的银行查询${entZh}，被节点拒绝：${e.reason || e.outcome}。`,
          en: `${from.en}'s bank asks for ${entEn}; the node refuses: ${e.reason || e.outcome}.`,
        };
      }
      let hash = { zh: "哈希校验一致", en: "its hash matched" };
      if (e.records === 0) hash = { zh: "但还没有任何记录", en: "but it has no records yet" };
      else if (e.tampered > 0) hash = { zh: "哈希校验不一致，内容被拒绝提供", en: "its hash did NOT match, so the content was refused" };
      else if (e.unavailable > 0) hash = { zh: "但来源城市节点未应答，内容暂缺", en: "but the origin city's nodes did not answer, so the content is missing" };
      else if (e.verified === false) hash = { zh: "哈希校验未通过", en: "its hash was not confirmed" };
      const origins = (e.origin_cities && e.origin_cities.length ? e.origin_cities : [e.to_city])
        .map((id) => cityOf(ctx, id));
      const many = origins.length > 1;
      return {
        zh: `${from.zh}的银行查询${entZh}；${consent.zh}；记录存于${origins.map((c) => c.zh).join("、")}；${hash.zh}。查询已留痕。`,
        en: `${from.en}'s bank asks for ${entEn}; ${consent.en}; the record${many ? "s live" : " lives"} in ${origins.map((c) => c.en).join(" and ")}; ${hash.en}. The query is logged for audit.`,
      };
    },
    grant(e, ctx) {
      const city = cityOf(ctx, e.enterprise_city);
      const qcity = cityOf(ctx, e.querier_city);
      return {
        zh: `企业 ${short(e.enterprise)}（${city.zh}）签名授权${qcity.zh}的${e.querier_name || "机构"}查询其信用报告，有效期至 ${date(e.expires_at)}（第 ${e.height} 块）。`,
        en: `Enterprise ${short(e.enterprise)} (${city.en}) signs its consent: ${e.querier_name || "an institution"} of ${qcity.en} may read its report until ${date(e.expires_at)} (block ${e.height}).`,
      };
    },
    grant_revoked(e, ctx) {
      const qcity = cityOf(ctx, e.querier_city);
      return {
        zh: `企业 ${short(e.enterprise)} 撤回了对${qcity.zh}${e.querier_name || "机构"}的授权（第 ${e.height} 块）。`,
        en: `Enterprise ${short(e.enterprise)} withdraws its consent from ${e.querier_name || "an institution"} of ${qcity.en} (block ${e.height}).`,
      };
    },
    audit_anchor(e, ctx) {
      const n = ctx.node(e.audit_node || e.node);
      return {
        zh: `${n.zh} 把 ${e.entry_count} 条查询留痕打包，将默克尔根锚定上链（第 ${e.batch_seq} 批，第 ${e.height} 块）：企业可以核查谁查询过它。`,
        en: `${n.en} anchors the Merkle root of ${e.entry_count} query log entries on chain (batch ${e.batch_seq}, block ${e.height}): enterprises can check who looked at them.`,
      };
    },
    dispute(e, ctx) {
      const origin = cityOf(ctx, e.origin_city);
      switch (e.phase) {
        case "opened":
          return {
            zh: `企业 ${short(e.enterprise)} 对${origin.zh}发布的一条记录提出异议，发布机构须在第 ${e.deadline} 块前答复。`,
            en: `Enterprise ${short(e.enterprise)} disputes a record published in ${origin.en}; the publisher must answer by block ${e.deadline}.`,
          };
        case "responded":
          return { zh: "发布机构对异议作出答复，答复的哈希已上链。", en: "The publisher answers the dispute; the answer's hash is on chain." };
        case "resolved":
          return e.upheld
            ? { zh: "监管机构裁定异议成立，记录被撤销。", en: "The regulator upholds the dispute; the record is revoked." }
            : { zh: "监管机构裁定异议不成立，记录保留。", en: "The regulator rejects the dispute; the record stands." };
        default:
          return { zh: "异议答复期限已过。", en: "The dispute's deadline passed without an answer." };
      }
    },
    health(e, ctx) {
      const n = ctx.node(e.node);
      if (e.health === "down") {
        return {
          zh: `${n.zh} 已离线。只要还有 ${ctx.quorum} 个验证节点在线，其余节点照常出块。`,
          en: `${n.en} is down. The others keep committing as long as ${ctx.quorum} of ${ctx.validators} validators are up.`,
        };
      }
      return {
        zh: `${n.zh} 重新上线，从其他节点拉取缺失的区块（带提交证书）追上进度。`,
        en: `${n.en} is back; it catches up by fetching the blocks it missed, each with its commit certificate.`,
      };
    },
    control(e, ctx) {
      const cities = (ids) => (ids || []).map((id) => cityOf(ctx, id));
      switch (e.action) {
        case "partition": {
          const a = cities(e.group_a), b = cities(e.group_b);
          return {
            zh: `演示：切断 ${a.map((c) => c.zh).join("、")} 与 ${b.map((c) => c.zh).join("、")} 之间的网络。只有拥有法定人数的一侧能继续出块。`,
            en: `Demo: the network between ${a.map((c) => c.en).join(", ")} and ${b.map((c) => c.en).join(", ")} is cut. Only a side holding a quorum can keep committing.`,
          };
        }
        case "slow": {
          const a = cityOf(ctx, e.city_a), b = cityOf(ctx, e.city_b);
          return Number(e.extra_delay_ms) > 0
            ? { zh: `演示：${a.zh}与${b.zh}之间的链路增加 ${e.extra_delay_ms} 毫秒延迟。`,
              en: `Demo: the links between ${a.en} and ${b.en} get ${e.extra_delay_ms} ms of extra delay.` }
            : { zh: `${a.zh}与${b.zh}之间的链路恢复正常。`, en: `The links between ${a.en} and ${b.en} are back to normal.` };
        }
        case "heal":
          return { zh: "所有链路恢复：分区和延迟都已撤销。", en: "Every link is restored: no partition, no extra delay." };
        case "stop": {
          const n = ctx.node(e.target);
          return { zh: `演示：停止节点 ${n.zh}。`, en: `Demo: stopping node ${n.en}.` };
        }
        case "start": {
          const n = ctx.node(e.target);
          return { zh: `演示：重启节点 ${n.zh}。`, en: `Demo: restarting node ${n.en}.` };
        }
        case "burst":
          return e.kind === "publish"
            ? { zh: `演示：各城市征信机构连续发布 ${e.count} 条记录。`, en: `Demo: the bureaus of every city publish ${e.count} records in a burst.` }
            : { zh: `演示：各城市银行发起 ${e.count} 次跨地区查询（先确认企业授权）。`, en: `Demo: banks of every city send ${e.count} cross-region queries (consent first).` };
        case "burst_done":
          return {
            zh: `压力演示结束：请求 ${e.requested} 次，${e.kind === "publish" ? `受理 ${e.admitted}` : `应答 ${e.answered}`} 次。${e.error ? e.error : ""}`,
            en: `Burst finished: ${e.requested} requested, ${e.kind === "publish" ? `${e.admitted} admitted` : `${e.answered} answered`}.${e.error ? ` ${e.error}` : ""}`,
          };
        default:
          return null;
      }
    },
    snapshot_failed(e) {
      return { zh: `无法取得网络快照：${e.reason}`, en: `The network's snapshot could not be fetched: ${e.reason}` };
    },
    events_elided(e) {
      return { zh: `第 ${e.height} 块还有 ${e.count} 个事件未逐条显示。`, en: `Block ${e.height} carries ${e.count} more events, not shown one by one.` };
    },
  };

  return function narrate(event, ctx) {
    const teller = tellers[event.type];
    if (!teller) return null;
    try {
      return teller(event, ctx);
    } catch (error) {
      return { zh: `事件 ${event.type}`, en: `event ${event.type}` };
    }
  };
})();
