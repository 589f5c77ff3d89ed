#!/usr/bin/env python3
"""fp64 numpy forward pass of stories260K.gguf (llama, F32), independent of Mint's code.

Usage: stories_fp64_oracle.py MODEL REFERENCE CASE -> JSON list, one entry per generated step of
the reference case (teacher-forced on its token ids): {id: logprob} for the reference's top-5.
"""
import struct, numpy as np, json, sys
f=open(sys.argv[1],'rb').read()
off=0
def rd(fmt):
    global off
    v=struct.unpack_from('<'+fmt,f,off); off+=struct.calcsize('<'+fmt); return v[0]
def rstr():
    global off
    n=rd('Q'); s=f[off:off+n]; off+=n; return s.decode('utf-8','replace')
def rval(t):
    if t==8: return rstr()
    if t==9:
        et=rd('I'); n=rd('Q'); return [rval(et) for _ in range(n)]
    fm={0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}[t]; return rd(fm)
assert f[:4]==b'GGUF'; off=4; ver=rd('I'); nt=rd('Q'); nkv=rd('Q')
md={}
for _ in range(nkv):
    k=rstr(); t=rd('I'); md[k]=rval(t)
ts=[]
for _ in range(nt):
    name=rstr(); nd=rd('I'); dims=[rd('Q') for _ in range(nd)]; typ=rd('I'); o=rd('Q'); ts.append((name,dims,typ,o))
align=32; data=(off+align-1)//align*align
W={}
for name,dims,typ,o in ts:
    n=int(np.prod(dims)); a=np.frombuffer(f,dtype=np.float32,count=n,offset=data+o).astype(np.float64)
    W[name]=a.reshape(list(reversed(dims)))
E=64;L=5;H=8;KVH=4;hd=8;eps=1e-5
def rms(x,w): return x/np.sqrt(np.mean(x*x)+eps)*w
def rope(x,pos):  # x: [heads, hd], adjacent pairs
    x=x.copy()
    for i in range(hd//2):
        th=pos*10000.0**(-2*i/hd); c,s=np.cos(th),np.sin(th)
        a,b=x[:,2*i].copy(),x[:,2*i+1].copy()
        x[:,2*i]=a*c-b*s; x[:,2*i+1]=a*s+b*c
    return x
ref=json.load(open(sys.argv[2]))
case=ref['cases'][int(sys.argv[3])]
result=[]
toks=list(case['prompt_token_ids'])+case['completion_token_ids']
K=[[] for _ in range(L)];V=[[] for _ in range(L)]
for pos,t in enumerate(toks[:-1]):
    x=W['token_embd.weight'][t].copy()
    for l in range(L):
        p=f'blk.{l}.'
        h=rms(x,W[p+'attn_norm.weight'])
        q=(W[p+'attn_q.weight']@h).reshape(H,hd); k=(W[p+'attn_k.weight']@h).reshape(KVH,hd); v=(W[p+'attn_v.weight']@h).reshape(KVH,hd)
        q=rope(q,pos);k=rope(k,pos);K[l].append(k);V[l].append(v)
        Ks=np.array(K[l]);Vs=np.array(V[l])
        out=np.zeros((H,hd))
        for hh in range(H):
            g=hh//(H//KVH); sc=Ks[:,g,:]@q[hh]/np.sqrt(hd); sc=np.exp(sc-sc.max()); sc/=sc.sum(); out[hh]=sc@Vs[:,g,:]
        x=x+W[p+'attn_output.weight']@out.reshape(-1)
        h=rms(x,W[p+'ffn_norm.weight'])
        g=W[p+'ffn_gate.weight']@h; u=W[p+'ffn_up.weight']@h
        x=x+W[p+'ffn_down.weight']@(g/(1+np.exp(-g))*u)
    lo=(W['output.weight'] if 'output.weight' in W else W['token_embd.weight'])@rms(x,W['output_norm.weight'])
    lp=lo-lo.max(); lp=lp-np.log(np.exp(lp).sum())
    step=pos-len(case['prompt_token_ids'])+1
    if step>=0:
        st=case['steps'][step]
        result.append({str(tp['id']): float(lp[tp['id']]) for tp in st['top']})
print(json.dumps(result))
