import os, sys, threading, time, resource, ctypes
libc=ctypes.CDLL(None,use_errno=True)
def link(fd,dst):
    if libc.linkat(-100,f"/proc/self/fd/{fd}".encode(),-100,dst.encode(),0x400)!=0: raise OSError(ctypes.get_errno(),dst)
mode=sys.argv[1]; N=int(sys.argv[2]); T=int(sys.argv[3])
root=f"/tmp/fsx/{mode}"; os.system(f"rm -rf {root}"); os.makedirs(root+"/tmp")
for i in range(256): os.makedirs(f"{root}/blocks/{i:02x}", exist_ok=True)
os.sync()
data=os.urandom(4096+64)
packs=[os.open(f"{root}/pack{k}",os.O_WRONLY|os.O_CREAT,0o644) for k in range(4)]
cnt=[0]; lock=threading.Lock()
def dsync(d):
    fd=os.open(d,os.O_RDONLY|os.O_DIRECTORY); os.fsync(fd); os.close(fd)
gs=[{"cv":threading.Condition(),"done":0,"req":0,"busy":False} for _ in range(4)]
def gsync(k):
    g=gs[k]; cv=g["cv"]
    with cv:
        g["req"]+=1; my=g["req"]
        while g["done"]<my:
            if not g["busy"]:
                g["busy"]=True; upto=g["req"]
                cv.release()
                try: os.fdatasync(packs[k])
                finally: cv.acquire()
                g["busy"]=False; g["done"]=upto; cv.notify_all()
            else:
                cv.wait()
def one(i):
    d=f"{root}/blocks/{i%256:02x}"
    if mode=="cur":
        t=f"{root}/tmp/{i}.tmp"
        fd=os.open(t,os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o644); os.write(fd,data); os.fsync(fd); os.close(fd)
        os.rename(t,f"{d}/{i}.blk"); dsync(d)
    elif mode=="tmpfile":
        fd=os.open(d,os.O_WRONLY|os.O_TMPFILE,0o644); os.write(fd,data); os.fsync(fd)
        link(fd,f"{d}/{i}.blk"); os.close(fd); dsync(d)
    elif mode=="tmpfile1":  # link then one fsync of the file
        fd=os.open(d,os.O_WRONLY|os.O_TMPFILE,0o644); os.write(fd,data); os.fdatasync(fd)
        link(fd,f"{d}/{i}.blk"); os.fsync(fd); os.close(fd)
    elif mode=="direct":
        fd=os.open(f"{d}/{i}.blk",os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o644); os.write(fd,data); os.fsync(fd); os.close(fd); dsync(d)
    elif mode=="direct1":
        fd=os.open(f"{d}/{i}.blk",os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o644); os.write(fd,data); os.fsync(fd); os.close(fd)
    elif mode=="pack":
        fd=packs[i%4]; os.pwrite(fd,data,(i//4)*len(data)); os.fdatasync(fd)
    elif mode=="packg":
        k=i%2; fd=packs[k]; os.pwrite(fd,data,(i//2)*len(data)); gsync(k)
    elif mode=="samedir":
        t=f"{d}/{i}.tmp"
        fd=os.open(t,os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o644); os.write(fd,data); os.fsync(fd); os.close(fd)
        os.rename(t,f"{d}/{i}.blk"); dsync(d)
def worker(k):
    i=k
    while i<N:
        one(i); i+=T
r0=resource.getrusage(resource.RUSAGE_SELF); t0=time.time()
ts=[threading.Thread(target=worker,args=(k,)) for k in range(T)]
[t.start() for t in ts]; [t.join() for t in ts]
el=time.time()-t0; r1=resource.getrusage(resource.RUSAGE_SELF)
cpu=(r1.ru_utime-r0.ru_utime)+(r1.ru_stime-r0.ru_stime)
print(f"{mode:9s} {N/el:7.0f}/s  cpu {cpu/N*1e6:6.0f} us/op (sys {(r1.ru_stime-r0.ru_stime)/N*1e6:.0f})")
