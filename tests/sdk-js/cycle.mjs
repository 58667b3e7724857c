// The festival's Hedera operations through the official JavaScript SDK against `baton devnet`: run
// by tests/sdk_js.rs with the devnet's HEDERA_NODE, HEDERA_NODE_ACCOUNT, HEDERA_MIRROR, OPERATOR_ID and
// OPERATOR_KEY; prints what it saw as one JSON line.
import {
  Client, PrivateKey, AccountId, TopicCreateTransaction, TopicMessageSubmitTransaction,
  TopicMessageQuery, AccountCreateTransaction, TokenCreateTransaction, TokenAssociateTransaction,
  TransferTransaction, AccountBalanceQuery, Hbar, Status,
} from "@hashgraph/sdk";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};

async function main() {
  const client = Client.forNetwork({ [env("HEDERA_NODE")]: AccountId.fromString(env("HEDERA_NODE_ACCOUNT")) });
  client.setMirrorNetwork([env("HEDERA_MIRROR")]);
  const operatorKey = PrivateKey.fromStringED25519(env("OPERATOR_KEY"));
  const operator = AccountId.fromString(env("OPERATOR_ID"));
  client.setOperator(operator, operatorKey);
  const out = {};

  const topic = (await (await new TopicCreateTransaction().setTopicMemo("js").execute(client)).getReceipt(client)).topicId;
  out.topic = topic.toString();
  const seen = [];
  const sub = new TopicMessageQuery().setTopicId(topic).setStartTime(0)
    .subscribe(client, (m, e) => { if (e) console.error("mirror:", e); }, (m) => seen.push(Buffer.from(m.contents).toString()));
  for (const text of ["hello", "x".repeat(3000)]) {
    const r = await (await new TopicMessageSubmitTransaction().setTopicId(topic).setMessage(text).execute(client)).getReceipt(client);
    if (r.status !== Status.Success) throw new Error(`submit: ${r.status}`);
  }

  const agentKey = PrivateKey.generateED25519();
  const agent = (await (await new AccountCreateTransaction().setKey(agentKey.publicKey).setInitialBalance(new Hbar(5)).execute(client)).getReceipt(client)).accountId;
  out.agent = agent.toString();
  const token = (await (await new TokenCreateTransaction().setTokenName("Festival").setTokenSymbol("FEST")
    .setDecimals(2).setInitialSupply(100000).setTreasuryAccountId(operator).setAdminKey(operatorKey.publicKey)
    .execute(client)).getReceipt(client)).tokenId;
  out.token = token.toString();

  // A transfer to an account not associated with the token is refused with Hedera's status.
  try {
    await (await new TransferTransaction().addTokenTransfer(token, operator, -100).addTokenTransfer(token, agent, 100).execute(client)).getReceipt(client);
    throw new Error("an unassociated transfer passed");
  } catch (e) {
    out.unassociated = e.status ? e.status.toString() : String(e);
  }
  const associate = await new TokenAssociateTransaction().setAccountId(agent).setTokenIds([token]).freezeWith(client).sign(agentKey);
  await (await associate.execute(client)).getReceipt(client);
  const paid = await (await new TransferTransaction().addTokenTransfer(token, operator, -1250).addTokenTransfer(token, agent, 1250)
    .setTransactionMemo("payment:task:t1").execute(client)).getReceipt(client);
  out.transfer = paid.status.toString();
  const balance = await new AccountBalanceQuery().setAccountId(agent).execute(client);
  out.balance = balance.tokens.get(token).toString();
  out.hbar = balance.hbars.toTinybars().toString();

  for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  sub.unsubscribe();
  out.messages = seen.map((s) => s.length);
  console.log(JSON.stringify(out));
  client.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
